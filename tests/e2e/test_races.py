"""Races the network can produce: result events that reach the app before the HTTP response of their action."""

import pytest

from tests.e2e.conftest import ring_agent
from tests.e2e.test_call_control import api, op, settled

pytestmark = pytest.mark.e2e

USER = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000004d1"
OTHER = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000004d2"


@pytest.fixture
def events_first(stack):
    stack.emulator.events_before_response = True
    yield
    stack.emulator.events_before_response = False


async def test_a_created_call_whose_events_come_first_is_one_call_with_its_operation_closed(stack, events_first):
    status, body, _ = await api(stack, "POST", "/api/calls", {"targets": [USER], "operationContext": "race-create"})
    assert status == 201
    call = await settled(stack, body["callConnectionId"])
    assert call["direction"] == "outbound" and call["state"] == "connected" and call["to"] == USER
    assert op(call, "createCall", "race-create")["status"] == "succeeded"
    status, listing = await stack.get("/api/calls?limit=500")
    assert [c["id"] for c in listing["calls"]].count(body["callConnectionId"]) == 1


async def test_an_add_whose_result_comes_first_is_not_lost(stack):
    status, body, _ = await api(stack, "POST", "/api/calls", {"targets": [USER]})
    await settled(stack, body["callConnectionId"])
    stack.emulator.events_before_response = True
    try:
        status, added, _ = await api(stack, "POST", f"/api/calls/{body['callConnectionId']}/participants",
                                     {"target": OTHER, "operationContext": "race-add"})
    finally:
        stack.emulator.events_before_response = False
    assert status == 202
    call = await settled(stack, body["callConnectionId"])
    operation = op(call, "addParticipant", "race-add")
    assert operation["status"] == "succeeded" and operation["invitationId"] == added["invitationId"]
    assert OTHER in call["participants"]


async def test_an_answered_call_whose_events_come_first_still_runs_its_ring_group(stack, events_first):
    stack.emulator.script_target(ring_agent(1), "answer")
    stack.emulator.script_target(ring_agent(2), "no-answer")
    stack.emulator.script_target("+14255550111", "no-answer")
    event = await stack.ring(from_="+14255550191", to="+18005550120")
    stack.emulator.events_before_response = False
    for _ in range(10):
        await stack.emulator.idle()
        call = await stack.call_for(event)
        if call["planState"]["phase"] == "done":
            break
    assert call["decision"]["rule"] == "ring-all" and op(call, "answer")["status"] == "succeeded"
    assert call["planState"]["winner"] == ring_agent(1)
