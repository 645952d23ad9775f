"""What every handler shares: optimistic read-modify-write of a call, recording a new call, and sending the
plan's follow-ups with their outcomes recorded."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from shared import telemetry
from shared.adapters.acs import Repeatability
from shared.adapters.store import CallExists
from shared.bootstrap import Services
from shared.domain import operations as ops
from shared.domain import plan as plans
from shared.domain.call import Call, fallback_caller_id, merge_declared, reconcile_ended
from shared.domain.callback_tokens import callback_url
from shared.domain.identifiers import PHONE, parse_target
from shared.domain.legs import leg_headers
from shared.domain.operations import Operation
from shared.errors import AcsError, CallsteerError, ConcurrencyConflict, NotFound, StoreUnavailable
from shared.handlers import stats

log = logging.getLogger("callsteer")
# Optimistic writes retried under contention (jittered, growing backoff) before answering 503.
MAX_WRITE_ATTEMPTS = 12


# What ACS answers an action on a call that is over (troubleshooting codes page): 400 with 8501 ("Action is invalid
# when call is not in Established state") or 8528, or 404 with 8522 ("Call not found"). 8501 also fits a call not
# established yet, so the call's state is asked of ACS before the call is recorded as ended.
ENDED_CALL_CODES = frozenset({8501, 8528, 8522})


def may_have_ended(exc: AcsError) -> bool:
    """Whether an ACS refusal says the call may be over (to be confirmed with GetCall)."""
    return exc.status == 404 or (exc.status == 400 and exc.sub_code in ENDED_CALL_CODES)


async def ended_at_acs(services: Services, call: Call) -> tuple[bool, str | None]:
    """Ask ACS for the call's state: (ended, state). Ended when ACS no longer knows the call (404) or says
    "disconnected"; a failed check is not proof of anything."""
    try:
        state = await services.control.call_state(call.call_connection_id)
    except AcsError:
        return False, None
    return state is None or state == "disconnected", state


async def reconcile_as_ended(services: Services, call_id: str, reason: str) -> Call | None:
    """Record a live call as disconnected (with a Reconciled entry in its log) because ACS says it is over."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        async with services.store.writer(call_id):
            loaded = await services.store.load(call_id)
            if loaded is None:
                return None
            if loaded.call.ended:
                return loaded.call
            ended, record = reconcile_ended(loaded.call, services.clock(), reason)
            try:
                await services.store.save(ended, loaded, [record])
                saved = True
            except ConcurrencyConflict:
                saved = False
        if not saved:
            await backoff(attempt)
            continue
        log.warning("call %s was %s but ACS says it is over: recorded as disconnected", call_id, loaded.call.state)
        return ended
    raise StoreUnavailable(f"call {call_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


def call_hop(call: Call) -> int:
    """How many times the app steered this call to it from another of its numbers (0 for a call from outside)."""
    return int((call.decision or {}).get("hop", 0))


def with_leg_header(services: Services, call: Call, target: Any, sip: dict[str, str] | None,
                    voip: dict[str, str] | None, repeat: Repeatability
                    ) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """An invitation's custom headers with the app's signed leg header added (next hop of this call). Dated by the
    request's first send, so a repeat of the request carries the very same body."""
    leg_sip, leg_voip = leg_headers(services.settings.callback.secret, target.raw_id, call_hop(call) + 1,
                                    repeat.first_sent)
    return ({**(sip or {}), **leg_sip} or None), ({**(voip or {}), **leg_voip} or None)


def error_dict(action: str, exc: AcsError) -> dict[str, Any]:
    return {"action": action, "status": exc.status, "code": exc.code, "subCode": exc.sub_code, "message": str(exc)}


async def backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 6))))


def url(services: Services, call_key: str) -> str:
    return callback_url(services.settings.callback.base_url, services.settings.callback.secret, call_key)


async def record_new(services: Services, declared: Call) -> Call:
    """Insert a call the app just created; if a callback raced ahead and made the row, merge into it."""
    telemetry.annotate_call(declared)
    try:
        await stats.inserted(services, declared, services.store.insert(declared))
        return declared
    except CallExists:
        pass
    for attempt in range(MAX_WRITE_ATTEMPTS):
        async with services.store.writer(declared.id):
            found = await services.store.load_with_events(declared.id, declared.call_key)
            if found is None:
                try:
                    await services.store.insert(declared)
                    inserted = True
                except CallExists:
                    continue
            else:
                inserted = False
                loaded, events = found.loaded, found.events
                now = services.clock()
                merged, commands = plans.advance(merge_declared(loaded.call, declared, events, now), now)
                try:
                    await services.store.save(merged, loaded, [])
                    saved = True
                except ConcurrencyConflict:
                    saved = False
        if inserted:
            await stats.observe(services, None, declared)
            return declared
        if not saved:
            await backoff(attempt)
            continue
        await stats.observe(services, loaded.call, merged)
        await run(services, merged, commands)
        return merged
    raise StoreUnavailable(f"call {declared.id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")

# ---- read-modify-write and follow-ups ------------------------------------------------------------------------


async def update(services: Services, call_id: str, mutate: Callable[[Call, datetime], Call]
                  ) -> tuple[Call, list[plans.Command]]:
    """Change one call under optimistic concurrency; the plan's follow-ups are recorded in the same write."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        async with services.store.writer(call_id):
            loaded = await services.store.load(call_id)
            if loaded is None:
                raise NotFound(f"no call with id {call_id!r}")
            now = services.clock()
            try:
                changed = mutate(loaded.call, now)
            except CallsteerError:
                if not loaded.cached:
                    raise
                # A refusal is never decided on a cached row: read the call and decide again.
                loaded = await services.store.load(call_id, fresh=True)
                if loaded is None:
                    raise NotFound(f"no call with id {call_id!r}") from None
                changed = mutate(loaded.call, now)
            call, commands = plans.advance(changed, now)
            telemetry.annotate_call(call)
            try:
                await services.store.save(call, loaded, [])
                saved = True
            except ConcurrencyConflict:
                saved = False
        if not saved:
            await backoff(attempt)
            continue
        await stats.observe(services, loaded.call, call)
        return call, commands
    raise StoreUnavailable(f"call {call_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


async def settle(services: Services, call_id: str, context: str,
                  change: Callable[[Operation, datetime], Operation]) -> Call:
    """Record what an ACS response said about an operation (never undoing a result an event already gave)."""

    def mutate(call: Call, now: datetime) -> Call:
        op = ops.find(call.operations, context)
        if op is None:
            return call
        return replace(call, operations=ops.upsert(call.operations, change(op, now)))

    call, commands = await update(services, call_id, mutate)
    await run(services, call, commands)
    return call


def failed(exc: AcsError) -> Callable[[Operation, datetime], Operation]:
    def change(op: Operation, now: datetime) -> Operation:
        if op.final:
            return op
        return replace(op, status=ops.FAILED, updated_at=now,
                       result={"code": exc.status, "subCode": exc.sub_code, "message": str(exc), "acsCode": exc.code})
    return change


def given_up(message: str) -> Callable[[Operation, datetime], Operation]:
    """An operation the app will not send (again): failed with the reason, unless an event already closed it."""
    def change(op: Operation, now: datetime) -> Operation:
        if op.final:
            return op
        return replace(op, status=ops.FAILED, updated_at=now, result={"message": message})
    return change


def accepted(invitation_id: str | None = None, recording_id: str | None = None
             ) -> Callable[[Operation, datetime], Operation]:
    def change(op: Operation, now: datetime) -> Operation:
        return replace(op, accepted_at=op.accepted_at or now, invitation_id=invitation_id or op.invitation_id,
                       recording_id=recording_id or op.recording_id, updated_at=now)
    return change


def done_by_response(op: Operation, now: datetime) -> Operation:
    """Requests whose answer is their outcome (hold, unhold, stop recording: 200/204, no result event)."""
    op = accepted()(op, now)
    return op if op.final else replace(op, status=ops.SUCCEEDED, updated_at=now)


def repeat_for(call: Call, context: str) -> Repeatability:
    op = ops.find(call.operations, context)
    return Repeatability.for_key(f"{call.id}:{context}", op.created_at if op else call.updated_at)


# Independent requests that go out together (a simultaneous ring's invitations, the cancels after a winner).
_CONCURRENT = (plans.AddParticipant, plans.CancelAddParticipant)
Change = Callable[[Operation, datetime], Operation]


async def run(services: Services, call: Call, commands: list[plans.Command]) -> None:
    """Send a plan's follow-ups; each outcome is recorded and may lead to the next step.

    Commands go in order, except that consecutive invitations (and cancels) are sent at once, concurrently, and
    their outcomes recorded in one write: a simultaneous ring rings everyone at the same moment."""
    i = 0
    while i < len(commands):
        j = i + 1
        if isinstance(commands[i], _CONCURRENT):
            while j < len(commands) and isinstance(commands[j], _CONCURRENT):
                j += 1
        batch, i = commands[i:j], j
        outcomes = await asyncio.gather(*(_send(services, call, command) for command in batch))
        await settle_all(services, call.id, [(command.context, change) for command, change in zip(batch, outcomes)])


async def settle_all(services: Services, call_id: str, changes: list[tuple[str, Change]]) -> Call:
    """Record what ACS answered for several operations in one write, then carry the plan on."""

    def mutate(call: Call, now: datetime) -> Call:
        operations = call.operations
        for context, change in changes:
            op = ops.find(operations, context)
            if op is not None:
                operations = ops.upsert(operations, change(op, now))
        return replace(call, operations=operations)

    call, commands = await update(services, call_id, mutate)
    await run(services, call, commands)
    return call


async def _send(services: Services, call: Call, command: plans.Command) -> Change:
    """One follow-up to ACS; what its answer says about the operation."""
    repeat = repeat_for(call, command.context)
    connection_id = call.call_connection_id
    control = services.control
    target = parse_target(command.target, "target") if isinstance(command, (plans.AddParticipant, plans.Transfer)) \
        else None
    caller_id = None
    if target is not None and target.kind == PHONE:
        caller_id = getattr(command, "caller_id", None) or fallback_caller_id(call, services.settings.acs.caller_id)
        if caller_id is None:
            log.warning("follow-up %s of call %s not sent: a phone number needs a caller id (set callerId in the "
                        "rule or ACS_CALLER_ID)", type(command).__name__, connection_id)
            return given_up("no caller id for a phone number: set callerId in the rule or ACS_CALLER_ID")
    try:
        if isinstance(command, plans.AddParticipant):
            sip, voip = with_leg_header(services, call, target, None, None, repeat)
            invitation_id = await control.add_participant(
                connection_id, target, caller_id, None, command.timeout_seconds, sip, voip, command.context, repeat)
            return accepted(invitation_id)
        if isinstance(command, plans.CancelAddParticipant):
            await control.cancel_add_participant(connection_id, command.invitation_id, command.context, repeat)
        elif isinstance(command, plans.RemoveParticipant):
            await control.remove_participant(connection_id, parse_target(command.target, "target"), command.context,
                                             repeat)
        elif isinstance(command, plans.Transfer):
            sip, voip = with_leg_header(services, call, target, None, None, repeat)
            await control.transfer(connection_id, target, None, sip, voip, command.context, repeat,
                                   caller_id=caller_id)
        elif isinstance(command, plans.HangUp):
            await control.hang_up(connection_id, command.for_everyone, repeat)
        elif isinstance(command, plans.Play):
            await control.play(connection_id, command.url, command.context)
        elif isinstance(command, plans.Recognize):
            await control.recognize(connection_id, parse_target(command.target, "caller"), tuple(command.prompts),
                                    command.timeout_seconds, command.context)
        elif isinstance(command, plans.Hold):
            await control.hold(connection_id, parse_target(command.target, "caller"), command.music, command.context)
            return done_by_response
        elif isinstance(command, plans.Unhold):
            await control.unhold(connection_id, parse_target(command.target, "caller"), command.context)
            return done_by_response
        elif isinstance(command, plans.StartRecording):
            container = services.settings.recordings_container_url
            if container is None:
                raise AcsError("StartRecording not sent: setting RECORDINGS_CONTAINER_URL is not set", status=None)
            if services.voicemails is not None and call.server_call_id:
                # RecordingFileStatusUpdated names only the server call id: keep the way back to this call.
                await services.voicemails.link(call.server_call_id, call.id, call.started_at)
            recording_id = await control.start_recording(connection_id, container, url(services, call.call_key),
                                                         repeat)
            return accepted(recording_id=recording_id)
        elif isinstance(command, plans.StopRecording):
            await control.stop_recording(command.recording_id)
            return done_by_response
    except AcsError as exc:
        if exc.in_progress:
            # The first send of this step (same repeatability id) is still being carried out: it stands.
            log.info("follow-up %s of call %s is still in progress at ACS; left pending", type(command).__name__,
                     connection_id)
            return _unchanged
        log.warning("follow-up %s of call %s failed: status=%s code=%s", type(command).__name__,
                    connection_id, exc.status, exc.code)
        return failed(exc)
    return accepted()


def _unchanged(op: Operation, now: datetime) -> Operation:
    return op
