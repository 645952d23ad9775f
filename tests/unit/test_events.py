"""Event parsing: IncomingCall and every callback type, parsed once at the edge; bad input named."""

import json

import pytest

from shared.domain import events as ev
from shared.domain.identifiers import ACS_USER, PHONE, TEAMS_USER
from shared.errors import ValidationError
from tests.payloads import callback, load_event


def parse_incoming(name):
    event = load_event(name)[0]
    return ev.parse_incoming_call(event["id"], event["eventTime"], event["data"])


def test_incoming_call_from_a_phone_is_typed_with_headers_and_context():
    call = parse_incoming("eventgrid_incoming_call_phone")
    assert call.from_.kind == PHONE and call.from_.phone_number == "+14255550123"
    assert call.to.display == "+18005550100"
    assert call.server_call_id.startswith("aHR0c") and call.correlation_id == "0a3c1f8e-77b2-4d5e-b1aa-2f6c0d9e8b10"
    assert call.sip_headers["X-MS-Custom-Tier"] == "gold"
    assert call.incoming_call_context.endswith("context-phone")
    assert call.event_time.microsecond == 123456  # seven fractional digits cut to six


def test_incoming_call_context_never_shows_in_repr():
    call = parse_incoming("eventgrid_incoming_call_phone")
    assert "context-phone" not in repr(call)


def test_incoming_call_from_acs_and_teams_users_keeps_their_kinds():
    assert parse_incoming("eventgrid_incoming_call_acs_user").from_.kind == ACS_USER
    teams = parse_incoming("eventgrid_incoming_call_teams_user")
    assert teams.from_.kind == TEAMS_USER and teams.from_.raw_id.startswith("8:orgid:")
    assert teams.caller_display_name is None and teams.sip_headers == {}


def test_an_identifier_without_raw_id_is_rebuilt_from_its_parts():
    event = load_event("eventgrid_incoming_call_phone")[0]
    event["data"]["from"] = {"phoneNumber": {"value": "+14255550123"}}
    call = ev.parse_incoming_call(event["id"], event["eventTime"], event["data"])
    assert call.from_.raw_id == "4:+14255550123" and call.from_.kind == PHONE


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d.pop("incomingCallContext"), "data.incomingCallContext"),
    (lambda d: d.pop("to"), "data.to"),
    (lambda d: d.update(serverCallId=42), "data.serverCallId"),
    (lambda d: d.update(customContext={"sipHeaders": ["x"]}), "data.customContext.sipHeaders"),
    (lambda d: d.update(customContext="nope"), "data.customContext"),
])
def test_incoming_call_with_bad_fields_is_refused_naming_the_field(mutate, field):
    event = load_event("eventgrid_incoming_call_phone")[0]
    mutate(event["data"])
    with pytest.raises(ValidationError) as caught:
        ev.parse_incoming_call(event["id"], event["eventTime"], event["data"])
    assert caught.value.field == field


@pytest.mark.parametrize("name", ev.HANDLED_EVENT_NAMES)
def test_every_handled_callback_type_parses_to_its_class(name):
    [event] = ev.parse_callback_body(json.dumps(callback(name)).encode())
    assert type(event).__name__ == name
    assert event.call_connection_id == "401f3500-62bd-46a9-8c37-fa6c2b1f7f43"


def test_participants_updated_carries_raw_ids_and_sequence_number():
    [event] = ev.parse_callback_body(json.dumps(callback("ParticipantsUpdated")).encode())
    assert event.sequence_number == 2
    assert [p.raw_id for p in event.participants][0] == "4:+14255550123"


def test_result_information_and_operation_context_are_kept():
    [event] = ev.parse_callback_body(json.dumps(callback("AddParticipantFailed")).encode())
    assert event.result == ev.ResultInformation(408, 10004, "The invitation timed out.")
    assert event.operation_context == "ring-agent-1" and event.participant.kind == ACS_USER


def test_unknown_event_types_are_kept_as_unknown_events():
    # SendDtmfTonesCompleted, as in ../shared/acs-recordings/dtmf_actions.json: the app sends no tones.
    body = callback("PlayCompleted")
    body[0]["type"] = "Microsoft.Communication.SendDtmfTonesCompleted"
    [event] = ev.parse_callback_body(json.dumps(body).encode())
    assert isinstance(event, ev.UnknownEvent) and event.name == "SendDtmfTonesCompleted"


def test_unknown_data_keys_are_ignored():
    [event] = ev.parse_callback_body(json.dumps(callback("CallConnected", somethingNew={"x": 1})).encode())
    assert isinstance(event, ev.CallConnected)


@pytest.mark.parametrize("body,message", [
    (b"not json", "not valid JSON"),
    (b'{"type": "x"}', "JSON array"),
    (b"[]", "empty array"),
    (b"[1]", "[0] must be a CloudEvent object"),
    (json.dumps([{"type": "Microsoft.Communication.CallConnected", "data": {"callConnectionId": "c"}}]).encode(),
     "[0].id is missing"),
    (json.dumps([{"id": "1", "type": "Microsoft.Communication.CallConnected", "data": {}}]).encode(),
     "[0].data.callConnectionId is missing"),
    (json.dumps([{"id": "1", "type": "Microsoft.Communication.CallConnected"}]).encode(), "[0].data must be an object"),
    (json.dumps(callback("ParticipantsUpdated", sequenceNumber="2")).encode(), "sequenceNumber must be an integer"),
    (json.dumps(callback("CallConnected", resultInformation={"code": "200"})).encode(), "code must be an integer"),
])
def test_bad_callback_bodies_are_refused_saying_what_is_wrong(body, message):
    with pytest.raises(ValidationError) as caught:
        ev.parse_callback_body(body)
    assert message in str(caught.value)
