"""Property tests: whatever arrives at the edge, the parsers answer with a result or the project's ValidationError.

Arbitrary JSON, near-valid payloads (a valid one with fields dropped or replaced by arbitrary JSON) and raw bytes
go into every parser of external input; anything escaping other than shared.errors.ValidationError (and its
subclasses) would become a 500 at the trigger.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.domain import requests as rq
from shared.domain.events import CallEvent, IncomingCall, parse_callback_body, parse_incoming_call, parse_time
from shared.domain.identifiers import Identifier, identifier_from_model, mask, parse_phone_number, parse_target
from shared.errors import ValidationError
from tests.property.strategies import (
    ANY_TEXT, BODIES, CALLBACK_BODIES, E164, JSON, PROPERTY, SIP, TARGET_LIKE, TIMES, VOIP, identifier_model,
    incoming_call_data,
)

E164_FULL = re.compile(r"\+[1-9][0-9]{6,14}")


def only_validation_errors(parse: Callable[..., Any], *args: Any) -> Any:
    """Call a parser; a ValidationError is an answer, anything else escaping fails the property."""
    try:
        return parse(*args)
    except ValidationError as exc:
        assert str(exc), "a validation error must say what is wrong"
        return exc


# ---- events ---------------------------------------------------------------------------------------------------


@PROPERTY
@given(body=CALLBACK_BODIES)
def test_callback_bodies_parse_or_raise_validation_errors_only(body):
    result = only_validation_errors(parse_callback_body, body)
    if not isinstance(result, ValidationError):
        assert result and all(isinstance(e, CallEvent) for e in result)
        for event in result:
            assert event.id and event.type and event.call_connection_id
            assert event.time.tzinfo is not None


@PROPERTY
@given(event_id=st.one_of(st.uuids().map(str), JSON), event_time=TIMES, data=incoming_call_data())
def test_incoming_calls_parse_or_raise_validation_errors_only(event_id, event_time, data):
    result = only_validation_errors(parse_incoming_call, event_id, event_time, data)
    if isinstance(result, IncomingCall):
        assert result.incoming_call_context and result.correlation_id and result.server_call_id
        assert isinstance(result.custom_headers, dict)
        if len(result.incoming_call_context) >= 16:
            assert result.incoming_call_context not in repr(result), "repr must not show incomingCallContext"


@PROPERTY
@given(value=TIMES)
def test_times_parse_to_aware_datetimes_or_raise_validation_errors(value):
    result = only_validation_errors(parse_time, value, "time")
    if not isinstance(result, ValidationError):
        assert result.tzinfo is not None


# ---- identifiers ----------------------------------------------------------------------------------------------


@PROPERTY
@given(value=st.one_of(TARGET_LIKE, JSON))
def test_targets_parse_to_known_kinds_or_raise_validation_errors(value):
    result = only_validation_errors(parse_target, value, "target")
    if isinstance(result, Identifier):
        assert result.kind in ("phoneNumber", "communicationUser", "microsoftTeamsUser", "microsoftTeamsApp")
        assert len(result.raw_id) <= 514
        if result.kind == "phoneNumber":
            assert result.raw_id.startswith("4:+")


@PROPERTY
@given(model=identifier_model())
def test_identifier_models_parse_or_raise_validation_errors(model):
    result = only_validation_errors(identifier_from_model, model, "data.from")
    if isinstance(result, Identifier):
        assert isinstance(result.raw_id, str) and result.raw_id
        assert "***" in result.masked() or len(result.display) <= 4 or result.masked() == "-"


@PROPERTY
@given(value=st.one_of(E164, ANY_TEXT, JSON))
def test_phone_numbers_validate_or_raise_validation_errors(value):
    only_validation_errors(parse_phone_number, value, "callerId")


@PROPERTY
@given(number=E164)
def test_masking_never_shows_more_than_the_last_four_digits(number):
    masked = mask(number)
    assert masked == "+***" + number[-4:]


@PROPERTY
@given(value=st.builds(lambda n, tail: n + tail, E164, st.sampled_from(["\n", "", "0"])))
@example(value="+14255550123\n")
def test_an_accepted_phone_number_is_exactly_e164(value):
    result = only_validation_errors(parse_phone_number, value, "callerId")
    if not isinstance(result, ValidationError):
        assert E164_FULL.fullmatch(result), f"{result!r} accepted"


# ---- control API requests -------------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "create": lambda b: rq.parse_create_call(b, None),
    "connect": rq.parse_connect,
    "transfer": rq.parse_transfer,
    "add": lambda b: rq.parse_add_participant(b, "+18005550100"),
    "hangup": rq.parse_hang_up,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@PROPERTY
@given(data=st.data())
def test_control_api_bodies_parse_or_raise_validation_errors_only(name, data):
    # As the trigger does: the wire body is decoded by parse_json_object, then parsed by the request's parser.
    body = json.dumps(data.draw(BODIES[name])).encode()
    decoded = only_validation_errors(rq.parse_json_object, body)
    if not isinstance(decoded, ValidationError):
        only_validation_errors(PARSERS[name], decoded)


@PROPERTY
@given(sip=st.one_of(SIP, JSON), voip=st.one_of(VOIP, JSON))
def test_custom_headers_parse_or_raise_validation_errors_only(sip, voip):
    sip_result = only_validation_errors(rq.sip_headers, sip)
    voip_result = only_validation_errors(rq.voip_headers, voip)
    if isinstance(sip_result, dict):
        assert len(sip_result) <= rq.MAX_SIP_HEADERS
        assert all(k.lower().startswith("x-ms-custom-") and len(v) <= rq.MAX_SIP_VALUE for k, v in sip_result.items())
    if isinstance(voip_result, dict):
        assert all(len(v) <= rq.MAX_VOIP_VALUE for v in voip_result.values())


@PROPERTY
@given(value=st.text(alphabet="abc=;\n\r", min_size=1, max_size=6))
@example(value="gold\n")
def test_an_accepted_sip_header_value_holds_only_the_documented_characters(value):
    result = only_validation_errors(rq.sip_headers, {"X-MS-Custom-Tier": value, "X-MS-Custom-Ok\n": "x"})
    if isinstance(result, dict):
        for name, text in result.items():
            assert re.fullmatch(r"[A-Za-z0-9.!%*_+~-]+", name) and re.fullmatch(r"[A-Za-z0-9=;.!%*_+~-]*", text), \
                f"{name!r}: {text!r} accepted"


@pytest.mark.parametrize("parser", ["callback", "control", "rules"])
def test_deeply_nested_json_is_a_validation_error(parser):
    from shared.domain.routing import load_rules

    nested = b"[" * 200_000
    parse = {"callback": parse_callback_body, "control": rq.parse_json_object,
             "rules": lambda b: load_rules(b.decode())}[parser]
    with pytest.raises(ValidationError):
        parse(nested)
