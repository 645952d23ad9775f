"""The call state machine: transitions by table, terminal states final, participants by sequence number."""

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from shared.domain import call as c
from shared.domain import operations as ops
from shared.domain.operations import Operation
from shared.domain.events import parse_callback_body
from tests.payloads import callback

NOW = datetime(2026, 11, 24, 14, 3, 14, tzinfo=timezone.utc)


def event(name, **data):
    return parse_callback_body(json.dumps(callback(name, **data)).encode())[0]


def a_call(state=c.CONNECTING):
    return c.Call(id="401f3500-62bd-46a9-8c37-fa6c2b1f7f43", call_key="i" + "0" * 31, direction=c.INBOUND,
                  state=state, started_at=NOW, updated_at=NOW)


@pytest.mark.parametrize("state,name,expected", [
    (c.CONNECTING, "CallConnected", c.CONNECTED),
    (c.CONNECTING, "AnswerFailed", c.FAILED),
    (c.CONNECTING, "CreateCallFailed", c.FAILED),
    (c.CONNECTING, "ConnectFailed", c.FAILED),
    (c.CONNECTED, "CallDisconnected", c.DISCONNECTED),
    (c.CONNECTING, "CallDisconnected", c.DISCONNECTED),
    (c.CONNECTED, "ParticipantsUpdated", c.CONNECTED),
    (c.CONNECTED, "AddParticipantFailed", c.CONNECTED),
    (c.CONNECTED, "PlayCompleted", c.CONNECTED),
])
def test_transitions_follow_the_table(state, name, expected):
    new, _ = c.apply_event(a_call(state), event(name), NOW)
    assert new.state == expected


@pytest.mark.parametrize("terminal", sorted(c.TERMINAL))
@pytest.mark.parametrize("name", ["CallConnected", "ParticipantsUpdated", "CallTransferAccepted"])
def test_nothing_after_the_end_brings_a_call_back(terminal, name):
    new, record = c.apply_event(a_call(terminal), event(name), NOW)
    assert new.state == terminal
    assert record.type == name  # it still joins the log


def transfer_op(transferee=None):
    return Operation(context="transfer-3d9e", action=ops.TRANSFER, status=ops.PENDING, created_at=NOW,
                     updated_at=NOW, target="+18005550199", transferee=transferee)


def test_one_to_one_transfer_leaves_the_apps_control_and_closes_its_operation():
    connected = replace(a_call(c.CONNECTED), operations=(transfer_op(),))
    # ACS names the transferee (the caller) even in a 1:1 transfer; what decides is what the app asked for.
    new, _ = c.apply_event(connected, event("CallTransferAccepted"), NOW)
    assert new.state == c.TRANSFERRED and new.ended_at is not None
    assert new.operations[0].status == ops.SUCCEEDED and new.operations[0].result["subCode"] == 7015


def test_group_transfer_of_one_participant_keeps_the_call_connected():
    connected = replace(a_call(c.CONNECTED), operations=(transfer_op(transferee="4:+14255550123"),))
    new, _ = c.apply_event(connected, event("CallTransferAccepted"), NOW)
    assert new.state == c.CONNECTED


def test_participants_keep_the_list_with_the_highest_sequence_number():
    call, _ = c.apply_event(a_call(c.CONNECTED), event("ParticipantsUpdated", sequenceNumber=5), NOW)
    older = callback("ParticipantsUpdated", sequenceNumber=3)[0]["data"]["participants"][:1]
    stale, _ = c.apply_event(call, event("ParticipantsUpdated", sequenceNumber=3, participants=older), NOW)
    assert len(stale.participants) == 2 and stale.participants_seq == 5
    newer, _ = c.apply_event(stale, event("ParticipantsUpdated", sequenceNumber=6, participants=older), NOW)
    assert newer.participants == ("4:+14255550123",) and newer.participants_seq == 6


def test_events_are_numbered_in_arrival_order_and_record_results():
    call, first = c.apply_event(a_call(), event("CallConnected"), NOW)
    call, second = c.apply_event(call, event("CallDisconnected"), NOW)
    assert (first.seq, second.seq, call.event_count) == (1, 2, 2)
    assert second.result.sub_code == 7000
    assert call.last_result == {"event": "CallDisconnected", "code": 200, "subCode": 7000,
                                "message": "The conversation has ended."}


def test_a_callback_that_raced_ahead_starts_a_connecting_call_with_its_ids():
    first = event("CallConnected")
    call = c.new_call_from_event(first, "i" + "1" * 31, NOW)
    assert (call.id, call.state, call.correlation_id) == (first.call_connection_id, c.CONNECTING,
                                                          first.correlation_id)
