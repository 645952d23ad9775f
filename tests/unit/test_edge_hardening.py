"""The edge parsers refuse, by class, what the hardening issue found getting through: ids parsed strictly once,
wire ids checked by their characters and length, callback bodies for one call only, and every size limit named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.domain.events import (
    MAX_EVENTS_PER_BODY, MAX_PARTICIPANTS, MAX_SEQUENCE_NUMBER, decode_json, parse_callback_body,
    parse_incoming_call,
)
from shared.domain.identifiers import (
    CALL_CONNECTION_ID, CORRELATION_ID, EVENT_ID, INVITATION_ID, SERVER_CALL_ID, is_wire_id, parse_target,
)
from shared.errors import PayloadTooLarge, ValidationError
from tests.payloads import callback, load_event

RECORDINGS = Path("/work/shared/acs-recordings")


@pytest.mark.parametrize("value", [
    "4:4:hello world", "4:4:+14255550123", "4:+\uff11\uff14\uff12\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13",
    "+\uff11\uff14\uff12\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13", "+\u0661\u0664\u0662\u0665\u0665\u0665\u0665",
    " +14255550123", "+14255550123\n", "4:", "4:anonymous", "8:acs:", "8:acs:hello world", "8:acs:8:acs:x",
    "8:acs:ag\u00e9nt", "8:orgid:../x", "8:acs:a/b", "8:acs:a%2Fb", "28:orgid:x y", "7:nobody", "hello",
])
def test_a_target_that_is_not_exactly_one_e164_number_or_one_known_raw_id_is_refused(value):
    with pytest.raises(ValidationError) as refused:
        parse_target(value, "targets[0]")
    assert refused.value.field == "targets[0]"


@pytest.mark.parametrize("value, raw_id", [
    ("+14255550123", "4:+14255550123"), ("4:+14255550123", "4:+14255550123"),
    ("8:acs:00000000-0000-0000-0000-000000000000_0000000000d1", "8:acs:00000000-0000-0000-0000-000000000000_0000000000d1"),
    ("8:acs:agent-1", "8:acs:agent-1"), ("8:orgid:6d889502-3d7a-41a8-befa-d21fd80e8767", None),
    ("28:orgid:6d889502-3d7a-41a8-befa-d21fd80e8767", None), ("8:teamsvisitor:abc_123", None),
])
def test_a_well_formed_target_parses_once_to_its_raw_id(value, raw_id):
    assert parse_target(value, "target").raw_id == (raw_id or value)


def _recorded_values(key: str) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == key and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for path in RECORDINGS.glob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason="the recorded payloads are beside the project")
@pytest.mark.parametrize("key, rule", [("callConnectionId", CALL_CONNECTION_ID), ("serverCallId", SERVER_CALL_ID),
                                       ("correlationId", CORRELATION_ID), ("invitationId", INVITATION_ID)])
def test_every_id_the_live_service_recorded_passes_its_wire_id_rule(key, rule):
    values = _recorded_values(key)
    assert values, key
    assert [v for v in values if not is_wire_id(v, rule)] == []


def test_long_server_call_ids_are_accepted_not_capped_short():
    assert is_wire_id("aHR0cHM6Ly9hcGkuZmxpZ2h0cHJveHkuc2t5cGUuY29tL2FwaS92Mi9jcC9" * 40, SERVER_CALL_ID)


@pytest.mark.parametrize("value", ["..", ".", "a/b", "a\\b", "a#b", "a?b", "a%2Fb", "a b", "a\nb", "x\ud800", "",
                                   "a" * 129, "\uff41"])
def test_a_call_connection_id_with_path_key_or_log_characters_is_refused(value):
    assert not is_wire_id(value, CALL_CONNECTION_ID)
    assert not is_wire_id(value, INVITATION_ID)


@pytest.mark.parametrize("value", ["e\nINFO callsteer: FORGED", "e\ud800", "e e", "e\\b", "x" * 257])
def test_an_event_id_with_log_or_storage_breaking_characters_is_refused(value):
    assert not is_wire_id(value, EVENT_ID)
    body = callback("CallDisconnected", callConnectionId="c1")
    body[0]["id"] = value
    with pytest.raises(ValidationError) as refused:
        parse_callback_body(json.dumps(body).encode())
    assert refused.value.field == "[0].id"


def test_an_incoming_call_whose_event_id_forges_a_log_line_is_refused():
    event = load_event("eventgrid_incoming_call_phone")[0]
    with pytest.raises(ValidationError) as refused:
        parse_incoming_call("id\nINFO callsteer: FORGED", event["eventTime"], event["data"])
    assert refused.value.field == "id"


def test_a_callback_body_naming_two_calls_is_refused_whole():
    first = callback("CallDisconnected", callConnectionId="call-a")[0]
    second = callback("CallConnected", callConnectionId="call-b")[0]
    with pytest.raises(ValidationError) as refused:
        parse_callback_body(json.dumps([first, second]).encode())
    assert refused.value.field == "[1].data.callConnectionId"


def test_a_callback_body_over_the_events_limit_is_too_large_and_names_the_limit():
    event = callback("PlayCompleted", callConnectionId="c1")[0]
    with pytest.raises(PayloadTooLarge, match=f"limit is {MAX_EVENTS_PER_BODY}"):
        parse_callback_body(json.dumps([event] * (MAX_EVENTS_PER_BODY + 1)).encode())
    assert len(parse_callback_body(json.dumps([event] * MAX_EVENTS_PER_BODY).encode())) == MAX_EVENTS_PER_BODY


@pytest.mark.parametrize("data, field, limit", [
    ({"sequenceNumber": 2**63}, "[0].data.sequenceNumber", str(MAX_SEQUENCE_NUMBER)),
    ({"sequenceNumber": -1}, "[0].data.sequenceNumber", str(MAX_SEQUENCE_NUMBER)),
    ({"participants": [{"identifier": {"rawId": f"8:acs:{i}"}} for i in range(MAX_PARTICIPANTS + 1)]},
     "[0].data.participants", f"limit is {MAX_PARTICIPANTS}"),
    ({"participants": [{"identifier": {"rawId": "8:acs:" + "p" * 500}} for _ in range(100)]},
     "[0].data.participants", "limit is 30000"),
    ({"resultInformation": {"code": 200, "subCode": 2**31}}, "[0].data.resultInformation.subCode", "32-bit"),
    ({"resultInformation": {"code": 200, "message": "m" * 70_000}}, "[0].data.resultInformation.message", "2048"),
    ({"operationContext": "o" * 257}, "[0].data.operationContext", "256"),
])
def test_a_callback_over_a_storage_limit_is_refused_naming_the_limit(data, field, limit):
    body = callback("ParticipantsUpdated", callConnectionId="c1", **data)
    with pytest.raises(ValidationError) as refused:
        parse_callback_body(json.dumps(body).encode())
    assert refused.value.field == field and limit in str(refused.value)


@pytest.mark.parametrize("raw", [b'{"a": "\\ud800"}', b'{"a": ["ok", "\\udfff"]}', b'{"\\ud800": 1}',
                                 b'{"a": "\xed\xa0\x80"}', b'{"a": "x\\u0000"}', b'{"a": "\\u001b[31m"}'])
def test_json_with_a_lone_surrogate_or_control_character_anywhere_is_refused(raw):
    with pytest.raises(ValidationError):
        decode_json(raw)


def test_json_text_with_newlines_and_tabs_is_kept():
    assert decode_json(b'{"message": "line one\\nline two\\tend"}') == {"message": "line one\nline two\tend"}
