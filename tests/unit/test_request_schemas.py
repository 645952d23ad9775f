"""Every request schema of the OpenAPI document, both ways: each documented field is accepted by the app's own
parser, and a field the document does not list is refused with a 400 naming it.

The request bodies are read from shared/openapi.json itself, so a schema added there without a parser here
fails `test_every_request_body_schema_has_a_parser`.
"""

import json
from pathlib import Path

import pytest

from shared.domain.simulation import parse_simulation

from shared.domain import requests as rq
from shared.errors import ValidationError

DOC = json.loads((Path(__file__).resolve().parents[2] / "shared" / "openapi.json").read_text())
SCHEMAS = DOC["components"]["schemas"]
CALLER = "+18005550100"

# One parser per request schema, and a body that the parser accepts with every documented field set.
PARSERS = {
    "CreateCallRequest": lambda b: rq.parse_create_call(b, CALLER),
    "ConnectRequest": rq.parse_connect,
    "TransferRequest": rq.parse_transfer,
    "AddParticipantRequest": lambda b: rq.parse_add_participant(b, CALLER),
    "HangUpRequest": rq.parse_hang_up,
    "SimulateRequest": parse_simulation,
}
VALID_VALUES = {
    "targets": ["+14255550123"],
    "target": "+14255550123",
    "transferee": "8:acs:00000000-0000-0000-0000-000000000000_0000000000d1",
    "callerId": "+18005550100",
    "displayName": "Support",
    "operationContext": "ctx-1",
    "invitationTimeoutSeconds": 30,
    "sipHeaders": {"X-MS-Custom-Ticket": "T-1234"},
    "voipHeaders": {"tier": "gold"},
    "userToUser": "616263;encoding=hex",
    "forEveryone": True,
    "serverCallId": "aHR0cHM6Ly9leGFtcGxl",
    "groupCallId": "4a7d6c2e-0f5b-4e8b-9c6f-1a2b3c4d5e6f",
    "roomId": "99999999999999999",
    "from": "+14255550123",
    "to": "+18005550100",
    "callerKind": "phoneNumber",
    "headers": {"X-MS-Custom-Tier": "gold"},
    "at": "2026-12-25T15:00:00Z",
    "rules": {"rules": [{"name": "support", "match": {"to": ["+18005550100"]}, "action": "answer"}],
              "default": {"action": "reject", "reason": "busy"}},
}
# Fields of which a request takes exactly one: sampled one at a time.
ONE_OF = {"ConnectRequest": ("serverCallId", "groupCallId", "roomId")}


def request_schema_names() -> set[str]:
    names = set()
    for path, item in DOC["paths"].items():
        if path.startswith("/callbacks/"):
            continue  # ACS's events: parsed by shared/domain/events.py, tested in tests/unit/test_events.py
        for operation in item.values():
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema and "$ref" in schema:
                names.add(schema["$ref"].rsplit("/", 1)[1])
    return names


def full_bodies(name: str) -> list[dict]:
    """Bodies with every documented field set (one per alternative of a one-of)."""
    fields = list(SCHEMAS[name]["properties"])
    alternatives = ONE_OF.get(name)
    if not alternatives:
        return [{f: VALID_VALUES[f] for f in fields}]
    common = [f for f in fields if f not in alternatives]
    return [{**{f: VALID_VALUES[f] for f in common}, choice: VALID_VALUES[choice]} for choice in alternatives]


def minimal_body(name: str) -> dict:
    body = {f: VALID_VALUES[f] for f in SCHEMAS[name].get("required", [])}
    if name in ONE_OF:
        body[ONE_OF[name][0]] = VALID_VALUES[ONE_OF[name][0]]
    return body


def test_every_request_body_schema_has_a_parser():
    assert request_schema_names() == set(PARSERS)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_schema_forbids_additional_properties(name):
    assert SCHEMAS[name].get("additionalProperties") is False


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_body_with_every_documented_field_is_accepted(name):
    for body in full_bodies(name):
        PARSERS[name](body)  # raises ValidationError if any documented field is refused


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_each_documented_field_alone_beside_the_required_ones_is_accepted(name):
    for field in SCHEMAS[name]["properties"]:
        body = minimal_body(name)
        if name in ONE_OF and field in ONE_OF[name]:
            body = {k: v for k, v in body.items() if k not in ONE_OF[name]}
        body[field] = VALID_VALUES[field]
        PARSERS[name](body)


UNDOCUMENTED = ["callbackUri", "operationCallbackUri", "forEveryOne", "extra", "target ", "cognitiveServicesEndpoint"]


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("field", UNDOCUMENTED)
def test_an_undocumented_field_is_refused_naming_it(name, field):
    assert field not in SCHEMAS[name]["properties"]
    body = {**minimal_body(name), field: "x"}
    with pytest.raises(ValidationError) as refused:
        PARSERS[name](body)
    assert refused.value.field == field
    assert field in str(refused.value)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_field_of_another_request_is_refused_unless_documented_here(name):
    """The fields of the other schemas are the likeliest strays (a transfer's sipHeaders sent to a hang-up)."""
    others = {f for other in PARSERS if other != name for f in SCHEMAS[other]["properties"]}
    for field in sorted(others - set(SCHEMAS[name]["properties"])):
        with pytest.raises(ValidationError) as refused:
            PARSERS[name]({**minimal_body(name), field: VALID_VALUES[field]})
        assert refused.value.field == field, f"{name} took {field}"
