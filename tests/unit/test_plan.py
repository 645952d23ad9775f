"""The follow-up plan engine: pure decisions from stored state, each step recorded as a pending operation."""

from dataclasses import replace
from datetime import datetime, timezone

from shared.domain import operations as ops
from shared.domain import plan as p
from shared.domain.call import CONNECTED, CONNECTING, DISCONNECTED, INBOUND, Call

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
RING = {"ring": ["8:acs:a", "8:acs:b", "+14255550111"], "strategy": "simultaneous", "timeoutSeconds": 20,
        "callerId": "+18005550100", "fallback": {"transfer": "+18005550199"}}


def a_call(plan, state=CONNECTED, **changes):
    call = Call(id="c1", call_key="i" + "0" * 31, direction=INBOUND, state=state, started_at=NOW, updated_at=NOW,
                call_connection_id="c1", from_="+14255550123", plan=plan, plan_state={"phase": p.WAITING})
    return replace(call, **changes)


def settle(call, context, status, invitation_id=None):
    op = ops.find(call.operations, context)
    return replace(call, operations=ops.upsert(call.operations, replace(op, status=status,
                                                                        invitation_id=invitation_id or op.invitation_id)))


def test_nothing_happens_before_the_call_connects():
    call, commands = p.advance(a_call(RING, state=CONNECTING), NOW)
    assert commands == [] and call.operations == ()


def test_simultaneous_ring_invites_everyone_at_once_with_the_rules_caller_id():
    call, commands = p.advance(a_call(RING), NOW)
    assert [c.target for c in commands] == RING["ring"]
    assert all(isinstance(c, p.AddParticipant) and c.timeout_seconds == 20 and c.caller_id == "+18005550100"
               for c in commands)
    assert [o.status for o in call.operations] == ["pending"] * 3 and call.plan_state["phase"] == p.RINGING


def test_advancing_again_without_news_sends_nothing_more():
    call, _ = p.advance(a_call(RING), NOW)
    again, commands = p.advance(call, NOW)
    assert commands == [] and again == call


def test_the_first_answer_wins_and_the_other_invitations_are_cancelled():
    call, commands = p.advance(a_call(RING), NOW)
    for i, command in enumerate(commands):
        call = settle(call, command.context, ops.PENDING, invitation_id=f"inv-{i}")
    call = settle(call, commands[1].context, ops.SUCCEEDED)
    call, cancels = p.advance(call, NOW)
    assert sorted(c.invitation_id for c in cancels) == ["inv-0", "inv-2"]
    assert call.plan_state["winner"] == "8:acs:b"
    assert p.advance(call, NOW)[1] == []  # cancels are not sent twice


def test_an_invitation_whose_id_arrives_after_the_winner_is_cancelled_then():
    call, commands = p.advance(a_call(RING), NOW)
    call = settle(call, commands[0].context, ops.SUCCEEDED, invitation_id="inv-0")
    call, cancels = p.advance(call, NOW)
    assert cancels == []  # the other invitations' ids are not known yet
    call = settle(call, commands[2].context, ops.PENDING, invitation_id="inv-2")
    call, cancels = p.advance(call, NOW)
    assert [c.invitation_id for c in cancels] == ["inv-2"]


def test_sequential_ring_invites_the_next_target_when_one_fails():
    plan = {**RING, "strategy": "sequential"}
    call, commands = p.advance(a_call(plan), NOW)
    assert [c.target for c in commands] == ["8:acs:a"]
    call = settle(call, commands[0].context, ops.FAILED)
    call, commands = p.advance(call, NOW)
    assert [c.target for c in commands] == ["8:acs:b"]


def test_when_nobody_answers_the_fallback_transfer_runs_once():
    call, commands = p.advance(a_call(RING), NOW)
    for command in commands:
        call = settle(call, command.context, ops.FAILED)
    call, fallback = p.advance(call, NOW)
    assert [type(c) for c in fallback] == [p.Transfer] and fallback[0].target == "+18005550199"
    assert call.plan_state["outcome"] == "unanswered"
    assert p.advance(call, NOW)[1] == []


def test_the_hang_up_fallback_ends_the_call_for_everyone():
    plan = {**RING, "ring": ["8:acs:a"], "fallback": {"hangup": True}}
    call, commands = p.advance(a_call(plan), NOW)
    call = settle(call, commands[0].context, ops.FAILED)
    _, fallback = p.advance(call, NOW)
    assert fallback == [p.HangUp(fallback[0].context, for_everyone=True)]


def test_a_caller_who_leaves_a_live_call_while_agents_ring_cancels_them_and_hangs_up():
    call, commands = p.advance(a_call(RING), NOW)
    for i, command in enumerate(commands):
        call = settle(call, command.context, ops.PENDING, invitation_id=f"inv-{i}")
    call = replace(call, participants=("8:acs:app",), participants_seq=3)
    call, follow_ups = p.advance(call, NOW)
    assert [type(c) for c in follow_ups] == [p.CancelAddParticipant] * 3 + [p.HangUp]


def test_an_ended_call_ends_its_plan():
    call, _ = p.advance(a_call(RING), NOW)
    ended, commands = p.advance(replace(call, state=DISCONNECTED), NOW)
    assert commands == [] and ended.plan_state["phase"] == p.DONE


def test_a_transfer_plan_transfers_as_soon_as_connected():
    call, commands = p.advance(a_call({"transfer": "+18005550199"}), NOW)
    assert commands == [p.Transfer(commands[0].context, "+18005550199")]
    assert call.plan_state["phase"] == p.TRANSFERRING


def test_step_contexts_are_stable_per_call_and_step():
    assert p.step_context("c1", "ring-0") == p.step_context("c1", "ring-0") != p.step_context("c2", "ring-0")
