"""Follow-ups in the routing rules, end to end: ring groups, fallbacks, transfers, a caller who hangs up."""

import pytest

from tests.e2e.conftest import ring_agent
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.e2e


def settled(call):
    return (call.get("planState") or {}).get("phase") in ("done", None) or call["state"] != "connected"


async def settle(stack, event):
    """The call once its plan is done or the call left `connected` (follow-ups chain: each result event may
    start the next step); fails when that does not happen."""

    async def read():
        await stack.emulator.idle()
        return await stack.call_for(event)

    return await eventually(read, settled, "the plan to finish")


async def ring(stack, to, caller):
    return await settle(stack, await stack.ring(from_=caller, to=to))


def invited(count):
    """Holds once `count` ring invitations have been accepted by ACS (their invitation ids are recorded)."""
    return lambda call: len([o for o in plan_ops(call, "addParticipant") if o.get("invitationId")]) == count


def is_op(request, name):
    """Whether an emulator request record is the spec operation `name` (operationIds may be prefixed)."""
    return request["operation"].split("_")[-1] == name


def plan_ops(call, action):
    return [o for o in call["operations"] if o["source"] == "plan" and o["action"] == action]


async def test_simultaneous_ring_first_answer_wins_and_the_others_are_cancelled(stack):
    # The others ring until cancelled (no scaled invitation timer for the cancel to beat).
    stack.emulator.script_target(ring_agent(1), "answer")
    stack.emulator.script_target(ring_agent(2), "ringing")
    stack.emulator.script_target("+14255550111", "ringing")
    call = await ring(stack, "+18005550120", "+14255550181")
    invites = {o["target"]: o for o in plan_ops(call, "addParticipant")}
    assert set(invites) == {ring_agent(1), ring_agent(2), "+14255550111"}
    assert invites[ring_agent(1)]["status"] == "succeeded"
    assert invites[ring_agent(2)]["status"] == "cancelled"
    assert invites["+14255550111"]["status"] == "cancelled"
    assert {o["status"] for o in plan_ops(call, "cancelAddParticipant")} == {"succeeded"}
    assert len(plan_ops(call, "cancelAddParticipant")) == 2
    assert call["planState"]["winner"] == ring_agent(1) and call["state"] == "connected"
    assert ring_agent(1) in call["participants"] and ring_agent(2) not in call["participants"]
    assert not plan_ops(call, "transfer")
    # The rule's caller id goes with the invitation to the phone number.
    [phone_add] = [r for r in stack.emulator.requests if is_op(r, "AddParticipant")
                   and r["body"]["participantToAdd"].get("rawId") == "4:+14255550111"
                   and r["path"].find(call["callConnectionId"]) >= 0]
    assert phone_add["body"]["sourceCallerIdNumber"]["value"] == "+18005550120"
    assert phone_add["body"]["invitationTimeoutInSeconds"] == 20


async def test_sequential_ring_moves_on_when_an_invitation_times_out(stack):
    stack.emulator.script_target(ring_agent(3), "no-answer")
    stack.emulator.script_target(ring_agent(4), "answer")
    call = await ring(stack, "+18005550121", "+14255550182")
    invites = plan_ops(call, "addParticipant")
    assert [o["target"] for o in invites] == [ring_agent(3), ring_agent(4)]
    assert [o["status"] for o in invites] == ["failed", "succeeded"]
    assert invites[0]["result"]["code"] == 408
    assert call["planState"]["winner"] == ring_agent(4) and not plan_ops(call, "transfer")
    adds = [r for r in stack.emulator.requests if is_op(r, "AddParticipant")
            and call["callConnectionId"] in r["path"]]
    assert [r["body"]["participantToAdd"]["rawId"] for r in adds] == [ring_agent(3), ring_agent(4)]


async def test_nobody_answering_falls_back_to_a_transfer(stack):
    stack.emulator.script_target(ring_agent(5), "decline")
    stack.emulator.script_target(ring_agent(6), "busy")
    call = await ring(stack, "+18005550122", "+14255550183")
    assert {o["status"] for o in plan_ops(call, "addParticipant")} == {"failed"}
    [fallback] = plan_ops(call, "transfer")
    assert fallback["target"] == "+18005550199" and fallback["status"] == "succeeded"
    assert call["state"] == "transferred" and call["planState"]["outcome"] == "unanswered"


async def test_nobody_answering_falls_back_to_hanging_up(stack):
    stack.emulator.script_target(ring_agent(7), "no-answer")
    call = await ring(stack, "+18005550123", "+14255550184")
    assert [o["status"] for o in plan_ops(call, "addParticipant")] == ["failed"]
    [hang_up] = plan_ops(call, "hangUp")
    assert hang_up["status"] == "succeeded" and call["state"] == "disconnected"
    assert any(is_op(r, "TerminateCall") and call["callConnectionId"] in r["path"]
               for r in stack.emulator.requests)


async def test_a_caller_hanging_up_while_agents_ring_cancels_the_invitations(stack):
    # Both agents ring until the caller leaves: no invitation timer runs.
    stack.emulator.script_target(ring_agent(8), "ringing")
    stack.emulator.script_target(ring_agent(9), "ringing")
    event = stack.emulator.incoming_call(from_="+14255550185", to="+18005550124")
    assert await stack.emulator.deliver_incoming_call(event) == 200
    call = await eventually(lambda: stack.call_for(event), invited(2), "both invitations to be accepted")
    stack.emulator.hang_up(call["callConnectionId"])
    await stack.emulator.idle()
    call = await stack.call_for(event)
    assert call["state"] == "disconnected"
    assert [o["status"] for o in plan_ops(call, "addParticipant")] == ["cancelled", "cancelled"]
    assert not plan_ops(call, "hangUp") and call["planState"]["phase"] == "done"


async def test_a_transfer_follow_up_runs_as_soon_as_the_call_connects(stack):
    call = await ring(stack, "+18005550125", "+14255550186")
    [transfer] = plan_ops(call, "transfer")
    assert transfer["status"] == "succeeded" and call["state"] == "transferred"


async def test_a_repeated_result_event_repeats_no_follow_up(stack):
    stack.emulator.script_target(ring_agent(3), "no-answer")
    stack.emulator.script_target(ring_agent(4), "answer")
    call = await ring(stack, "+18005550121", "+14255550187")
    failed = next(c for c in stack.emulator.callbacks if c["call_connection_id"] == call["callConnectionId"]
                  and c["type"].endswith("AddParticipantFailed"))
    adds_before = [r for r in stack.emulator.requests if is_op(r, "AddParticipant")]
    status, outcome = await stack.post(failed["url"], [failed["event"]])
    assert status == 200 and outcome == {"applied": 0, "duplicates": 1}
    await stack.emulator.idle()
    adds_after = [r for r in stack.emulator.requests if is_op(r, "AddParticipant")]
    assert len(adds_after) == len(adds_before)


async def test_two_agents_answering_at_once_the_first_answer_applied_stays_and_the_other_is_removed(stack):
    # Both agents pick up in the same instant, after the invitations went out: the app's cancel of the second
    # arrives after its answer and fails (CancelAddParticipantFailed), as it can on the service.
    for target in (ring_agent(1), ring_agent(2), "+14255550111"):
        stack.emulator.script_target(target, "ringing")
    event = stack.emulator.incoming_call(from_="+14255550188", to="+18005550120")
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await eventually(lambda: stack.call_for(event), invited(3), "the three invitations to be accepted")
    assert stack.emulator.release_targets([ring_agent(1), ring_agent(2)], "answer") == 2
    call = await settle(stack, event)
    invites = {o["target"]: o for o in plan_ops(call, "addParticipant")}
    assert invites[ring_agent(1)]["status"] == invites[ring_agent(2)]["status"] == "succeeded"
    assert invites["+14255550111"]["status"] == "cancelled"
    # The first AddParticipantSucceeded the app applied wins; the other agent is removed, once.
    assert call["planState"]["winner"] == ring_agent(1) and call["planState"]["phase"] == "done"
    [removal] = plan_ops(call, "removeParticipant")
    assert removal["target"] == ring_agent(2) and removal["status"] == "succeeded"
    cancels = {o["target"]: o["status"] for o in plan_ops(call, "cancelAddParticipant")}
    assert cancels[invites[ring_agent(2)]["invitationId"]] == "failed"
    assert cancels[invites["+14255550111"]["invitationId"]] == "succeeded"
    assert ring_agent(1) in call["participants"] and ring_agent(2) not in call["participants"]
    assert call["state"] == "connected"
    removes = [r for r in stack.emulator.requests if is_op(r, "RemoveParticipant")
               and call["callConnectionId"] in r["path"]]
    assert [r["body"]["participantToRemove"]["rawId"] for r in removes] == [ring_agent(2)]
    assert stack.emulator.ringing("+14255550111") == 0
