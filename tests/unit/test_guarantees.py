"""README's "Guarantees and their limits", one direct test each, through the handlers with in-memory fakes of
Table Storage and ACS (tests/unit/fakes.py). The same guarantees are also exercised end to end against Azurite
and the emulator (tests/e2e, tests/reliability); here each is asserted on its own, so a change that breaks one
fails a test named after it."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from shared import handlers
from shared.adapters.acs import Repeatability
from shared.domain import operations as ops
from shared.domain.callback_tokens import inbound_call_key
from shared.domain.events import parse_callback_body, parse_incoming_call
from shared.errors import AcsError, StoreUnavailable
from shared.handlers.callbacks import RESEND_LIMIT
from shared.handlers.core import MAX_WRITE_ATTEMPTS
from shared.handlers.incoming import REDELIVERY_WINDOW
from tests.payloads import callback, load_event
from tests.unit.fakes import CONNECTION_ID, Clock, FakeControl, services

RING = ["8:acs:agent-a", "8:acs:agent-b"]
RULES = {"rules": [{"name": "support", "match": {"to": ["+18005550100"]}, "action": "answer",
                    "then": {"ring": RING, "strategy": "simultaneous", "timeoutSeconds": 20}}],
         "default": {"action": "reject", "reason": "busy"}}
RETRYABLE = AcsError("AnswerCall failed: ACS answered 503", status=503, retryable=True)
PERMANENT = AcsError("AnswerCall failed: ACS answered 400", status=400, code="BadRequest")


def incoming():
    event = load_event("eventgrid_incoming_call_phone")[0]
    return parse_incoming_call(event["id"], event["eventTime"], event["data"])


def events(name, event_id=None, **data):
    body = callback(name, **data)
    if event_id:
        body[0]["id"] = event_id
    return parse_callback_body(json.dumps(body).encode())


def stored(svc):
    [(call, _)] = svc.store.calls.values()
    return call


def at(call, seconds):
    return Clock(call.event_time + timedelta(seconds=seconds))


# ---- At-least-once delivery acts once -------------------------------------------------------------------------


async def test_a_redelivered_incoming_call_repeats_the_same_acs_request_and_leaves_one_record():
    call = incoming()
    svc = services(RULES, clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    await handlers.on_incoming_call(svc, call)  # Event Grid delivers it again
    [(_, first), (_, again)] = svc.control.actions("answer")
    assert first == again == Repeatability.for_key(inbound_call_key(call.event_id, call.event_time), call.event_time).request_id
    assert len(svc.store.calls) == 1


async def test_a_repeated_callback_event_changes_nothing_and_repeats_no_follow_up():
    call = incoming()
    svc = services(RULES, clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    key = inbound_call_key(call.event_id, call.event_time)
    connected = events("CallConnected", operationContext="answer:support")
    first = await handlers.on_callback(svc, key, connected)
    before, sent = stored(svc), len(svc.control.sent)
    again = await handlers.on_callback(svc, key, connected)
    assert (first.applied, first.duplicates) == (1, 0) and (again.applied, again.duplicates) == (0, 1)
    assert stored(svc) == before and len(svc.control.sent) == sent
    assert len(svc.store.events[CONNECTION_ID]) == 1


# ---- No lost updates ------------------------------------------------------------------------------------------


async def test_a_callback_that_loses_the_write_race_reads_again_and_applies_its_event_once():
    call = incoming()
    svc = services({"rules": [], "default": {"action": "answer"}}, clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    svc.store.conflicts_to_inject = 2  # two other writers change the call between our read and write
    loads = svc.store.loads
    outcome = await handlers.on_callback(svc, inbound_call_key(call.event_id, call.event_time), events("CallConnected"))
    assert outcome.applied == 1 and stored(svc).state == "connected"
    assert svc.store.loads - loads == 3 and [e.type for e in svc.store.events[CONNECTION_ID]] == ["CallConnected"]


async def test_contention_is_bounded_then_answered_503_so_that_acs_retries():
    call = incoming()
    svc = services({"rules": [], "default": {"action": "answer"}}, clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    svc.store.conflicts_to_inject = 10 ** 6
    saves = svc.store.saves
    with pytest.raises(StoreUnavailable):
        await handlers.on_callback(svc, inbound_call_key(call.event_id, call.event_time), events("CallConnected"))
    assert svc.store.saves - saves == MAX_WRITE_ATTEMPTS
    assert stored(svc).state == "connecting" and not svc.store.events[CONNECTION_ID]


# ---- Order: a callback first, the app's own record second -----------------------------------------------------


async def test_a_call_whose_first_callback_arrives_before_the_apps_record_is_merged_not_duplicated():
    call = incoming()
    svc = services({"rules": [], "default": {"action": "answer"}}, clock=at(call, 1))
    await handlers.on_callback(svc, inbound_call_key(call.event_id, call.event_time), events("CallConnected",
                                                                            operationContext="answer:default"))
    await handlers.on_incoming_call(svc, call)
    merged = stored(svc)
    assert len(svc.store.calls) == 1 and merged.state == "connected"
    assert merged.decision["action"] == "answer" and merged.from_ == "+14255550123"
    [answer] = merged.operations
    assert answer.status == ops.SUCCEEDED  # closed by the CallConnected already in


# ---- Faults: the redelivery window ----------------------------------------------------------------------------


async def test_a_retryable_failure_inside_the_redelivery_window_asks_for_redelivery_and_records_nothing():
    call = incoming()
    svc = services(RULES, control=FakeControl(fail=[RETRYABLE]),
                   clock=at(call, REDELIVERY_WINDOW.total_seconds() - 0.001))
    with pytest.raises(AcsError):
        await handlers.on_incoming_call(svc, call)
    assert svc.store.calls == {}


async def test_a_retryable_failure_at_the_end_of_the_redelivery_window_is_recorded_as_failed():
    call = incoming()
    svc = services(RULES, control=FakeControl(fail=[RETRYABLE]), clock=at(call, REDELIVERY_WINDOW.total_seconds()))
    recorded = await handlers.on_incoming_call(svc, call)  # returns normally: a redelivery cannot help now
    assert recorded.state == "failed" and stored(svc).error["status"] == 503


async def test_a_permanent_refusal_is_recorded_at_once_without_asking_for_redelivery():
    call = incoming()
    svc = services(RULES, control=FakeControl(fail=[PERMANENT]), clock=at(call, 1))
    recorded = await handlers.on_incoming_call(svc, call)
    assert recorded.state == "failed" and stored(svc).error["code"] == "BadRequest"


async def test_the_redelivery_after_a_failure_repeats_the_same_request_and_records_the_call_once():
    call = incoming()
    control = FakeControl(fail=[RETRYABLE])
    svc = services(RULES, control=control, clock=at(call, 2))
    with pytest.raises(AcsError):
        await handlers.on_incoming_call(svc, call)
    svc.clock.now += timedelta(seconds=10)
    await handlers.on_incoming_call(svc, call)
    [(_, first), (_, again)] = control.actions("answer")
    assert first == again and len(svc.store.calls) == 1 and stored(svc).state == "connecting"


# ---- Follow-ups survive a lost answer ------------------------------------------------------------------------


async def ringing(svc):
    call = incoming()
    await handlers.on_incoming_call(svc, call)
    key = inbound_call_key(call.event_id, call.event_time)
    connected = events("CallConnected", event_id="connected-1", operationContext="answer:support")
    await handlers.on_callback(svc, key, connected)
    return key, connected


async def test_steps_acs_never_accepted_are_sent_again_when_acs_repeats_the_callback_and_only_those():
    call = incoming()
    svc = services(RULES, clock=at(call, 1))
    key, connected = await ringing(svc)
    adds = svc.control.actions("addParticipant")
    assert [args[0] for args, _ in adds] == RING
    # The write landed but the process died before ACS's answer to b's invitation was recorded.
    ringing_call = stored(svc)
    b = next(op for op in ringing_call.operations if op.target == RING[1])
    svc.store.calls[ringing_call.id] = (replace(ringing_call, operations=ops.upsert(
        ringing_call.operations, replace(b, accepted_at=None, invitation_id=None))), "W/lost")
    outcome = await handlers.on_callback(svc, key, connected)  # ACS repeats the callback
    assert outcome.duplicates == 1
    resent = svc.control.actions("addParticipant")[len(adds):]
    assert resent == [adds[1]]  # b only, under the repeatability id of its first send
    assert ops.find(stored(svc).operations, b.context).accepted_at is not None
    await handlers.on_callback(svc, key, connected)
    assert svc.control.actions("addParticipant")[len(adds) + 1:] == []  # accepted now: not sent a third time


@pytest.mark.parametrize("late", [False, True], ids=["inside the window", "at its limit"])
async def test_a_step_is_sent_again_only_inside_the_repeatability_window_and_recorded_failed_past_it(late):
    call = incoming()
    svc = services(RULES, clock=at(call, 1))
    key, connected = await ringing(svc)
    adds = svc.control.actions("addParticipant")
    ringing_call = stored(svc)
    b = next(op for op in ringing_call.operations if op.target == RING[1])
    svc.store.calls[ringing_call.id] = (replace(ringing_call, operations=ops.upsert(
        ringing_call.operations, replace(b, accepted_at=None, invitation_id=None))), "W/lost")
    # ACS repeats the callback when the step is RESEND_LIMIT old (or a second younger): a repeat past ACS's 5-minute
    # repeatability window would be a new request, carried out twice.
    svc.clock.now = b.created_at + RESEND_LIMIT - (timedelta(0) if late else timedelta(seconds=1))
    await handlers.on_callback(svc, key, connected)
    resent = svc.control.actions("addParticipant")[len(adds):]
    after = ops.find(stored(svc).operations, b.context)
    if late:
        assert resent == [] and after.status == ops.FAILED and after.accepted_at is None
    else:
        assert resent == [adds[1]] and after.status == ops.PENDING and after.accepted_at is not None


# ---- Stale calls ----------------------------------------------------------------------------------------------


class GoneControl(FakeControl):
    def __init__(self, state):
        super().__init__()
        self.state = state

    async def call_state(self, connection_id):
        return self.state


@pytest.mark.parametrize("acs_state", [None, "disconnected"])
async def test_a_stale_call_acs_says_is_over_is_recorded_disconnected_with_a_reconciled_entry(acs_state):
    call = incoming()
    svc = services({"rules": [], "default": {"action": "answer"}}, control=GoneControl(acs_state), clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    svc.clock.now += timedelta(seconds=svc.settings.stale_call_seconds)
    shown = await handlers.get_call(svc, CONNECTION_ID)
    assert shown["state"] == "disconnected" and shown["events"][-1]["type"] == "Reconciled"
    assert stored(svc).state == "disconnected"


@pytest.mark.parametrize("silent_for,acs_state", [(-1, None), (0, "connected")])
async def test_a_call_not_yet_stale_or_still_alive_in_acs_is_left_as_it_is(silent_for, acs_state):
    call = incoming()
    svc = services({"rules": [], "default": {"action": "answer"}}, control=GoneControl(acs_state), clock=at(call, 1))
    await handlers.on_incoming_call(svc, call)
    svc.clock.now += timedelta(seconds=svc.settings.stale_call_seconds + silent_for)
    shown = await handlers.get_call(svc, CONNECTION_ID)
    assert shown["state"] == "connecting" and not [e for e in shown["events"] if e["type"] == "Reconciled"]
