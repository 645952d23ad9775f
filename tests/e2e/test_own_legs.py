"""The app's own legs come back as IncomingCall (as the service raises them: same correlation id, the invitation's
custom calling context): no action on those meant for ACS users; those to the resource's own numbers are routed by
their rules, a bounded number of hops."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import AGENT, E2E_RULES, ring_agent
from tests.e2e.test_call_control import CALLER_ID, USER_A, USER_B, api, created, settled

pytestmark = pytest.mark.e2e

DECISIONS = ("AnswerCall", "RejectCall", "RedirectCall")
HOP_A, HOP_B = "+18005550141", "+18005550142"          # two of the resource's numbers
TRANSFER_IN, DESK = "+18005550143", "+18005550144"
RULES = {**E2E_RULES, "rules": [
    {"name": "a-to-b", "match": {"to": [HOP_A]}, "action": "redirect", "target": HOP_B},
    {"name": "b-answers", "match": {"to": [HOP_B]}, "action": "answer"},
    {"name": "to-desk", "match": {"to": [TRANSFER_IN]}, "action": "answer", "then": {"transfer": DESK}},
    {"name": "desk", "match": {"to": [DESK]}, "action": "answer"},
    *E2E_RULES["rules"]]}
LOOP = {**E2E_RULES, "rules": [
    {"name": "a-to-b", "match": {"to": [HOP_A]}, "action": "redirect", "target": HOP_B},
    {"name": "b-to-a", "match": {"to": [HOP_B]}, "action": "redirect", "target": HOP_A},
    *E2E_RULES["rules"]]}


def raised_for(stack, correlation_id, to=None):
    return [r for r in stack.emulator.raised_incoming_calls
            if r["correlationId"] == correlation_id and (to is None or r["to"] == to)]


def acted_on(stack, raised):
    """The app's answer/reject/redirect requests for a raised IncomingCall."""
    context = raised["event"]["data"]["incomingCallContext"]
    return [r for r in stack.emulator.requests
            if r["operation"] in DECISIONS and (r["body"] or {}).get("incomingCallContext") == context]


async def calls_with(stack, correlation_id):
    status, listing = await stack.get("/api/calls?limit=500")
    assert status == 200
    found = []
    for summary in listing["calls"]:  # the listing holds summaries: each call is read whole
        if summary["correlationId"] == correlation_id:
            status, call = await stack.get(f"/api/calls/{summary['id']}")
            assert status == 200, call
            found.append(call)
    return sorted(found, key=lambda c: c["startedAt"])


async def assert_no_action_on_own_legs(stack, correlation_id, *targets):
    for target in targets:
        [raised] = raised_for(stack, correlation_id, target)
        assert raised["status"] == 200, raised
        assert raised["event"]["data"]["correlationId"] == correlation_id
        assert acted_on(stack, raised) == [], f"the app acted on its own leg to {target}"


async def test_a_ring_group_to_an_agent_and_a_phone_rings_both_and_the_app_leaves_the_agents_leg_alone(stack):
    stack.emulator.script_target(ring_agent(1), "answer")
    stack.emulator.script_target(ring_agent(2), "no-answer")
    stack.emulator.script_target("+14255550111", "no-answer")
    event = await stack.ring(from_="+14255550701", to="+18005550120")
    await stack.emulator.idle()
    correlation_id = event["data"]["correlationId"]
    await assert_no_action_on_own_legs(stack, correlation_id, ring_agent(1), ring_agent(2))
    # The agent's IncomingCall carries the app's invitation's custom context: its signed leg header.
    [agent_leg] = raised_for(stack, correlation_id, ring_agent(1))
    assert agent_leg["cause"] == "AddParticipant"
    assert "X-MS-Custom-Callsteer-Leg" in agent_leg["event"]["data"]["customContext"]["voipHeaders"]
    # The phone number is not the resource's: no IncomingCall for it, but it rang, with a caller id.
    assert raised_for(stack, correlation_id, "4:+14255550111") == []
    [call] = await calls_with(stack, correlation_id)
    [phone] = [r for r in stack.emulator.requests if r["operation"].split("_")[-1] == "AddParticipant"
               and r["body"]["participantToAdd"].get("rawId") == "4:+14255550111" and call["id"] in r["path"]]
    assert phone["status"] == 202 and phone["body"]["sourceCallerIdNumber"]["value"] == "+18005550120"
    assert call["state"] == "connected" and call["planState"]["winner"] == ring_agent(1)


async def test_add_participant_and_transfer_to_acs_users_get_no_action_even_before_the_app_recorded_them(stack):
    call, _ = await created(stack, [USER_A, "+14255550702"], callerId=CALLER_ID)
    stack.emulator.events_before_response = True  # the invitation's events race ahead of the REST answer
    try:
        status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {"target": USER_B})
        assert status == 202, body
        await stack.emulator.idle()
        status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/transfer",
                                    {"target": AGENT, "transferee": "+14255550702"})
        assert status == 202, body
    finally:
        stack.emulator.events_before_response = False
    await settled(stack, call["id"])
    await assert_no_action_on_own_legs(stack, call["correlationId"], USER_B, AGENT)
    assert [c["id"] for c in await calls_with(stack, call["correlationId"])] == [call["id"]]


async def test_a_created_call_to_an_acs_user_gets_no_action_on_its_incoming_call(stack):
    call, _ = await created(stack, ["8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007a1"])
    await assert_no_action_on_own_legs(stack, call["correlationId"],
                                       "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007a1")
    [raised] = raised_for(stack, call["correlationId"])
    assert raised["cause"] == "CreateCall"
    assert [c["id"] for c in await calls_with(stack, call["correlationId"])] == [call["id"]]


async def test_a_created_call_whose_incoming_call_comes_before_the_answer_is_still_known(stack):
    stack.emulator.events_before_response = True
    try:
        status, body, _ = await api(stack, "POST", "/api/calls", {
            "targets": ["8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007a2"]})
    finally:
        stack.emulator.events_before_response = False
    assert status == 201
    call = await settled(stack, body["callConnectionId"])
    await assert_no_action_on_own_legs(stack, call["correlationId"],
                                       "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007a2")


async def test_a_redirect_to_an_acs_user_gets_no_action_on_the_users_incoming_call(stack):
    event = await stack.ring(from_="+14255550703", to="+18005550178")  # rule to-agent
    await stack.emulator.idle()
    correlation_id = event["data"]["correlationId"]
    await assert_no_action_on_own_legs(stack, correlation_id, AGENT)
    assert raised_for(stack, correlation_id, AGENT)[0]["cause"] == "RedirectCall"
    [call] = await calls_with(stack, correlation_id)
    assert call["state"] == "redirected"


async def test_a_redirect_to_one_of_the_resources_numbers_is_routed_by_that_numbers_rule(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES))
    stack.emulator.own_numbers(HOP_A, HOP_B)
    event = await stack.ring(from_="+14255550704", to=HOP_A)
    await stack.emulator.idle()
    first, second = await calls_with(stack, event["data"]["correlationId"])
    assert (first["to"], first["state"], first["decision"]["rule"]) == (HOP_A, "redirected", "a-to-b")
    assert (second["to"], second["state"], second["decision"]["rule"]) == (HOP_B, "connected", "b-answers")
    assert second["from"] == "+14255550704"


async def test_a_transfer_to_one_of_the_resources_numbers_is_routed_by_that_numbers_rule(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES))
    stack.emulator.own_numbers(DESK)
    event = await stack.ring(from_="+14255550705", to=TRANSFER_IN)
    for _ in range(5):
        await stack.emulator.idle()
    first, second = await calls_with(stack, event["data"]["correlationId"])
    assert (first["to"], first["state"]) == (TRANSFER_IN, "transferred")
    assert (second["to"], second["state"], second["decision"]["rule"]) == (DESK, "connected", "desk")
    assert second["decision"]["hop"] == 1
    [leg] = raised_for(stack, event["data"]["correlationId"], "4:" + DESK)
    assert leg["cause"] == "TransferToParticipant"
    assert "X-MS-Custom-Callsteer-Leg" in leg["event"]["data"]["customContext"]["sipHeaders"]


async def test_a_redirect_loop_between_two_numbers_stops_at_the_hop_bound_with_a_reject(stack, settings_changed, caplog):
    settings_changed(ROUTING_RULES=json.dumps(LOOP))
    stack.emulator.own_numbers(HOP_A, HOP_B)
    event = await stack.ring(from_="+14255550706", to=HOP_A)
    for _ in range(10):
        await stack.emulator.idle()
    calls = await calls_with(stack, event["data"]["correlationId"])
    assert [c["state"] for c in calls] == ["redirected"] * 5 + ["rejected"]
    assert calls[-1]["decision"]["rule"] == "hop-limit"
    assert len(raised_for(stack, event["data"]["correlationId"])) == 5
    assert any("the limit is 5" in r.getMessage() for r in caplog.records)
    # Redelivering the last IncomingCall decides the same (a reject), recorded once.
    last = raised_for(stack, event["data"]["correlationId"])[-1]["event"]
    assert await stack.emulator.deliver_incoming_call(last) == 200
    await stack.emulator.idle()
    assert [c["state"] for c in await calls_with(stack, event["data"]["correlationId"])] == [c["state"] for c in calls]


async def test_a_forged_or_moved_leg_header_is_not_taken_for_the_apps_own(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(RULES))
    call, _ = await created(stack, [USER_A])
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {"target": USER_B})
    await settled(stack, call["id"])
    [raised] = raised_for(stack, call["correlationId"], USER_B)
    header = raised["event"]["data"]["customContext"]["voipHeaders"]["X-MS-Custom-Callsteer-Leg"]
    # The same header on a call from someone else to another user: not the app's leg, routed by the rules (gold).
    event = stack.emulator.incoming_call(from_="8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007b1",
                                         to="8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000007b2",
                                         voip_headers={"X-MS-Custom-Callsteer-Leg": header, "X-MS-Custom-Tier": "gold"})
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    assert (await stack.call_for(event))["decision"]["rule"] == "gold"
