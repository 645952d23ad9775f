"""Caller ids for the app's invitations to phone numbers: ACS refuses one without a number of the resource, so the app
falls back to the number the caller dialled (or the call's own number), then ACS_CALLER_ID, and never sends one
without."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import E2E_RULES, ring_agent
from tests.e2e.test_call_control import CALLER_ID, USER_A, acs_requests, api, created, settled

pytestmark = pytest.mark.e2e

LINE = "+18005550130"          # a number of the resource with a ring group whose rule names no callerId
VOIP_LINE = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000006a1"
MOBILE = "+14255550631"
RULES = {**E2E_RULES, "rules": [
    {"name": "ring-mobile", "match": {"to": [LINE]}, "action": "answer",
     "then": {"ring": [ring_agent(31), MOBILE], "timeoutSeconds": 20, "fallback": {"transfer": "+18005550199"}}},
    {"name": "voip-ring-mobile", "match": {"to": [VOIP_LINE]}, "action": "answer",
     "then": {"ring": [MOBILE], "timeoutSeconds": 20}},
    *E2E_RULES["rules"]]}


def sent_to(stack, operation, raw_id, call_id):
    key = "participantToAdd" if operation == "AddParticipant" else "targetParticipant"
    return [r for r in acs_requests(stack, operation)
            if r["body"][key].get("rawId") == raw_id and call_id in r["path"]]


async def test_a_ring_group_rings_the_agent_and_the_phone_with_the_dialled_number_as_caller_id(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES))
    stack.emulator.script_target(ring_agent(31), "no-answer")
    stack.emulator.script_target(MOBILE, "no-answer")
    event = await stack.ring(from_="+14255550632", to=LINE)
    for _ in range(10):
        await stack.emulator.idle()
        call = await stack.call_for(event)
        if (call.get("planState") or {}).get("phase") == "done":
            break
    call_id = call["callConnectionId"]
    [agent_add] = sent_to(stack, "AddParticipant", ring_agent(31), call_id)
    [phone_add] = sent_to(stack, "AddParticipant", "4:" + MOBILE, call_id)
    assert agent_add["status"] == phone_add["status"] == 202
    assert phone_add["body"]["sourceCallerIdNumber"] == {"value": LINE}
    # The fallback transfer to a phone number carries it too.
    [transfer] = sent_to(stack, "TransferToParticipant", "4:+18005550199", call_id)
    assert transfer["status"] == 202 and transfer["body"]["sourceCallerIdNumber"] == {"value": LINE}


async def test_a_ring_step_with_no_caller_id_to_give_is_recorded_failed_and_not_sent(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES), ACS_CALLER_ID="")
    event = await stack.ring(from_="8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000006a2",
                             to=VOIP_LINE)
    await stack.emulator.idle()
    call = await stack.call_for(event)
    assert not sent_to(stack, "AddParticipant", "4:" + MOBILE, call["callConnectionId"])
    [ring] = [o for o in call["operations"] if o["source"] == "plan"]
    assert ring["status"] == "failed" and "caller id" in ring["result"]["message"]


async def test_the_same_ring_step_uses_acs_caller_id_when_set(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES), ACS_CALLER_ID=CALLER_ID)
    event = await stack.ring(from_="8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000006a3",
                             to=VOIP_LINE)
    call = await stack.call_for(event)
    [phone_add] = sent_to(stack, "AddParticipant", "4:" + MOBILE, call["callConnectionId"])
    assert phone_add["body"]["sourceCallerIdNumber"] == {"value": CALLER_ID}


async def test_the_api_adds_a_phone_to_an_inbound_call_with_the_dialled_number_when_no_caller_id_is_given(
        stack, settings_changed):
    settings_changed(ACS_CALLER_ID="")
    event = await stack.ring(from_="+14255550633", to="+18005550100")
    call = await stack.call_for(event)
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {"target": "+14255550634"})
    assert status == 202, body
    [add] = sent_to(stack, "AddParticipant", "4:+14255550634", call["callConnectionId"])
    assert add["body"]["sourceCallerIdNumber"] == {"value": "+18005550100"}
    event = await stack.ring(from_="+14255550637", to="+18005550100")
    call = await stack.call_for(event)
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/transfer", {"target": "+14255550635"})
    assert status == 202, body
    [transfer] = sent_to(stack, "TransferToParticipant", "4:+14255550635", call["callConnectionId"])
    assert transfer["body"]["sourceCallerIdNumber"] == {"value": "+18005550100"}


async def test_the_api_refuses_a_phone_invitation_with_no_caller_id_to_give_before_sending(stack, settings_changed):
    settings_changed(ACS_CALLER_ID="")
    call, _ = await created(stack, [USER_A])  # outbound to a user: no number of its own
    before = len(stack.emulator.requests)
    for path, body in (("participants", {"target": "+14255550636"}), ("transfer", {"target": "+14255550636"})):
        status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/{path}", body)
        assert status == 400 and problem["field"] == "callerId", problem
    assert len(stack.emulator.requests) == before
    after = await settled(stack, call["id"])
    assert not [o for o in after["operations"] if o["action"] in ("addParticipant", "transfer")]
