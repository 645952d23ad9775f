"""What a write of a call counts in the daily figures: decisions once, answer failures moved, ring outcomes once."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from shared.domain.operations import Operation
from shared.domain.tally import Tally, bucket, median, tally
from shared.domain.call import Call

T0 = datetime(2026, 12, 2, 23, 59, 50, tzinfo=timezone.utc)


def inbound(state="connecting", action="answer", rule="support", **kw):
    return Call(id="c1", call_key="k", direction="inbound", state=state, started_at=T0, updated_at=T0,
                decision={"action": action, "rule": rule}, **kw)


def test_a_new_decision_is_offered_and_counted_by_its_action_on_the_day_the_call_started():
    for action, figure, state in (("answer", "answered", "connecting"), ("reject", "rejected", "rejected"),
                                  ("redirect", "redirected", "redirected")):
        change = tally(None, inbound(state=state, action=action))
        assert dict(change.changes) == {"offered": 1, figure: 1} and change.day.isoformat() == "2026-12-02"


def test_a_decision_acs_refused_counts_as_failed():
    assert dict(tally(None, inbound(state="failed", action="redirect")).changes) == {"offered": 1, "failed": 1}


def test_a_decision_merged_into_a_row_a_callback_made_counts_once_and_a_repeat_counts_nothing():
    raced = replace(inbound(state="connected"), decision=None)
    assert dict(tally(raced, inbound(state="connected")).changes) == {"offered": 1, "answered": 1}
    assert tally(inbound(), inbound()) is None
    assert tally(inbound(state="connected"), inbound(state="disconnected")) is None


def test_an_answer_that_fails_moves_from_answered_to_failed():
    assert dict(tally(inbound(), inbound(state="failed")).changes) == {"answered": -1, "failed": 1}
    assert tally(inbound(state="failed"), inbound(state="failed")) is None


def test_outbound_calls_count_nothing():
    call = replace(inbound(), direction="outbound", decision=None)
    assert tally(None, call) is None


def ring_op(target, status, created, updated):
    return Operation(context=f"plan:{target}", action="addParticipant", status=status, created_at=created,
                     updated_at=updated, source="plan", target=target)


def test_a_ring_group_answered_counts_once_with_the_time_from_the_first_invitation():
    ops = (ring_op("8:acs:a", "pending", T0, T0), ring_op("8:acs:b", "succeeded", T0 + timedelta(seconds=1),
                                                              T0 + timedelta(seconds=7.25)))
    ringing = inbound(state="connected", operations=ops[:1], plan_state={"phase": "ringing"})
    answered = inbound(state="connected", operations=ops, plan_state={"phase": "ringing", "outcome": "answered"})
    change = tally(ringing, answered)
    assert dict(change.changes) == {"ringAnswered": 1} and change.answer_seconds == 7.25
    assert tally(answered, replace(answered, plan_state={"phase": "done", "outcome": "answered"})) is None


def test_a_ring_group_nobody_answered_or_the_caller_left_counts_unanswered_once():
    ringing = inbound(state="connected", plan_state={"phase": "ringing"})
    for outcome in ("unanswered", "caller left"):
        done = replace(ringing, plan_state={"phase": "fallback", "outcome": outcome})
        assert dict(tally(ringing, done).changes) == {"ringUnanswered": 1}
        assert tally(done, done) is None


def test_answer_time_buckets_and_median():
    assert [bucket(s) for s in (0.04, 3.26, 9.96, 10.4, 599.6, 4000)] == ["0.0", "3.3", "10.0", "10", "600", "600"]
    assert median({}) is None
    assert median({"3.0": 1}) == 3.0
    assert median({"2.0": 1, "4.0": 1}) == 3.0
    assert median({"1.0": 3, "50": 1}) == 1.0
    assert median({"1.0": 1, "2.5": 2, "12": 1, "0": 0}) == 2.5


def test_a_tally_taken_back_undoes_each_count_and_adds_no_answer_time():
    counted = Tally(day=date(2026, 12, 2), rule="sales", changes=(("offered", 1), ("answered", 1), ("failed", -1)),
                    answer_seconds=None)
    back = counted.taken_back()
    assert back == Tally(day=date(2026, 12, 2), rule="sales",
                         changes=(("offered", -1), ("answered", -1), ("failed", 1)), answer_seconds=None)
    assert Tally(day=date(2026, 12, 2), rule="r", changes=(), answer_seconds=4.2).taken_back().answer_seconds is None
