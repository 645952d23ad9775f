"""The plan engine's guarantees, each asserted directly: the plan ends (`done`) once a winner is in and every
other invitation is closed; two agents answering at once leaves one (the first answer applied) and removes the
other; the steps ACS never accepted are the ones sent again, and only those."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain import operations as ops
from shared.domain import plan as p
from shared.domain.call import CONNECTED, INBOUND, Call

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
RING = {"ring": ["8:acs:a", "8:acs:b", "+14255550111"], "strategy": "simultaneous", "timeoutSeconds": 20,
        "callerId": "+18005550100", "fallback": {"transfer": "+18005550199"}}


def ringing_call():
    """A connected call whose three invitations are out and accepted by ACS (invitation ids inv-0..inv-2)."""
    call = Call(id="c1", call_key="i" + "0" * 31, direction=INBOUND, state=CONNECTED, started_at=NOW,
                updated_at=NOW, call_connection_id="c1", from_="+14255550123", plan=RING,
                plan_state={"phase": p.WAITING})
    call, commands = p.advance(call, NOW)
    for i, command in enumerate(commands):
        call = change(call, command.context, invitation_id=f"inv-{i}", accepted_at=NOW)
    return call, [c.context for c in commands]


def change(call, context, **fields):
    op = ops.find(call.operations, context)
    return replace(call, operations=ops.upsert(call.operations, replace(op, **fields)))


def op_for(call, action, target):
    [op] = [o for o in call.operations if o.action == action and o.target == target]
    return op


def close_all(call, action, status):
    for op in [o for o in call.operations if o.action == action and not o.final]:
        call = change(call, op.context, status=status)
    return call


def test_the_plan_is_done_once_the_winner_is_in_and_every_other_invitation_is_closed():
    call, adds = ringing_call()
    call = change(call, adds[0], status=ops.SUCCEEDED)
    call, cancels = p.advance(call, NOW)
    assert len(cancels) == 2 and call.plan_state["phase"] == p.RINGING  # not done while cancels are pending
    call = close_all(call, ops.CANCEL_ADD_PARTICIPANT, ops.SUCCEEDED)
    call = change(call, adds[1], status=ops.CANCELLED)
    call, commands = p.advance(call, NOW)
    assert commands == [] and call.plan_state["phase"] == p.RINGING  # one invitation still open
    call = change(call, adds[2], status=ops.CANCELLED)
    call, commands = p.advance(call, NOW)
    assert commands == []
    assert (call.plan_state["phase"], call.plan_state["winner"], call.plan_state["outcome"]) == \
        (p.DONE, "8:acs:a", "answered")


def test_a_done_plan_does_nothing_more_whatever_arrives():
    call, adds = ringing_call()
    call = change(call, adds[0], status=ops.SUCCEEDED)
    call, _ = p.advance(call, NOW)
    call = close_all(close_all(call, ops.CANCEL_ADD_PARTICIPANT, ops.SUCCEEDED), ops.ADD_PARTICIPANT, ops.CANCELLED)
    call, _ = p.advance(call, NOW)
    assert call.plan_state["phase"] == p.DONE
    assert p.advance(call, NOW + timedelta(minutes=1)) == (call, [])


def test_two_agents_answering_at_once_the_later_is_removed_once():
    call, adds = ringing_call()
    call = change(call, adds[0], status=ops.SUCCEEDED)
    call, cancels = p.advance(call, NOW)
    assert {c.invitation_id for c in cancels} == {"inv-1", "inv-2"}
    # The cancel of b arrives after b answered: it fails, and b's AddParticipantSucceeded follows.
    call = change(call, op_for(call, ops.CANCEL_ADD_PARTICIPANT, "inv-1").context, status=ops.FAILED)
    call = change(call, adds[1], status=ops.SUCCEEDED)
    call, commands = p.advance(call, NOW)
    assert commands == [p.RemoveParticipant(commands[0].context, "8:acs:b")]
    removal = op_for(call, ops.REMOVE_PARTICIPANT, "8:acs:b")
    assert removal.status == ops.PENDING and removal.source == "plan"
    assert call.plan_state["winner"] == "8:acs:a" and call.plan_state["phase"] == p.RINGING
    assert p.advance(call, NOW)[1] == []  # not removed twice
    call = change(call, removal.context, status=ops.SUCCEEDED)
    call = change(call, op_for(call, ops.CANCEL_ADD_PARTICIPANT, "inv-2").context, status=ops.SUCCEEDED)
    call = change(call, adds[2], status=ops.CANCELLED)
    call, commands = p.advance(call, NOW)
    assert commands == [] and call.plan_state["phase"] == p.DONE and call.plan_state["winner"] == "8:acs:a"


def test_the_recorded_winner_stays_when_an_agent_earlier_in_the_ring_answers_later():
    call, adds = ringing_call()
    call = change(call, adds[1], status=ops.SUCCEEDED)   # b answers first
    call, _ = p.advance(call, NOW)
    assert call.plan_state["winner"] == "8:acs:b"
    call = change(call, adds[0], status=ops.SUCCEEDED)   # then a, listed before b
    call, commands = p.advance(call, NOW)
    assert call.plan_state["winner"] == "8:acs:b"
    assert [c.target for c in commands if isinstance(c, p.RemoveParticipant)] == ["8:acs:a"]


def test_two_answers_applied_in_one_write_keep_the_first_listed_and_remove_the_other():
    call, adds = ringing_call()
    call = change(change(call, adds[0], status=ops.SUCCEEDED), adds[1], status=ops.SUCCEEDED)
    call, commands = p.advance(call, NOW)
    assert call.plan_state["winner"] == "8:acs:a"
    assert [c.target for c in commands if isinstance(c, p.RemoveParticipant)] == ["8:acs:b"]
    assert [c.invitation_id for c in commands if isinstance(c, p.CancelAddParticipant)] == ["inv-2"]


# ---- re-send of unaccepted steps --------------------------------------------------------------------------


def test_only_the_steps_acs_never_accepted_are_sent_again():
    call, adds = ringing_call()
    assert p.unsent(call) == []  # all three were accepted
    call = change(call, adds[1], accepted_at=None)
    assert [c.context for c in p.unsent(call)] == [adds[1]]
    assert p.unsent(call)[0] == p.AddParticipant(adds[1], "8:acs:b", 20, "+18005550100")


def test_a_step_closed_by_its_event_is_not_sent_again_even_if_its_response_was_lost():
    call, adds = ringing_call()
    call = change(call, adds[1], accepted_at=None, status=ops.FAILED)
    assert p.unsent(call) == []


@pytest.mark.parametrize("kind", ["cancel", "remove", "transfer", "hangup"])
def test_every_kind_of_step_is_sent_again_with_its_own_context(kind):
    call, adds = ringing_call()
    if kind in ("cancel", "remove"):
        call = change(call, adds[0], status=ops.SUCCEEDED)
        call = change(call, adds[1], status=ops.SUCCEEDED)
        call, commands = p.advance(call, NOW)
        wanted = p.CancelAddParticipant if kind == "cancel" else p.RemoveParticipant
    else:
        plan = {**RING, "fallback": {"transfer": "+18005550199"} if kind == "transfer" else {"hangup": True}}
        call = close_all(replace(call, plan=plan), ops.ADD_PARTICIPANT, ops.FAILED)
        call, commands = p.advance(call, NOW)
        wanted = p.Transfer if kind == "transfer" else p.HangUp
    sent = [c for c in commands if isinstance(c, wanted)]
    assert sent, commands
    resent = [c for c in p.unsent(call) if isinstance(c, wanted)]
    assert resent == sent
    for command in sent:
        call = change(call, command.context, accepted_at=NOW)
    assert not [c for c in p.unsent(call) if isinstance(c, wanted)]


def test_steps_from_the_api_or_the_rule_are_never_sent_again_by_the_plan():
    call, adds = ringing_call()
    for context in adds:
        call = change(call, context, source="api", accepted_at=None)
    assert p.unsent(call) == []
