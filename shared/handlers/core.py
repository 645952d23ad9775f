"""What every handler shares: optimistic read-modify-write of a call, recording a new call, and sending the
plan's follow-ups with their outcomes recorded."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from shared.adapters.acs import Repeatability
from shared.adapters.store import CallExists
from shared.bootstrap import Services
from shared.domain import operations as ops
from shared.domain import plan as plans
from shared.domain.call import Call, merge_declared, reconcile_ended
from shared.domain.callback_tokens import callback_url
from shared.domain.identifiers import parse_target
from shared.domain.operations import Operation
from shared.errors import AcsError, ConcurrencyConflict, NotFound, StoreUnavailable

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
        loaded = await services.store.load(call_id)
        if loaded is None:
            return None
        if loaded.call.ended:
            return loaded.call
        ended, record = reconcile_ended(loaded.call, services.clock(), reason)
        try:
            await services.store.save(ended, loaded.etag, [record])
        except ConcurrencyConflict:
            await backoff(attempt)
            continue
        log.warning("call %s was %s but ACS says it is over: recorded as disconnected", call_id, loaded.call.state)
        return ended
    raise StoreUnavailable(f"call {call_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


def error_dict(action: str, exc: AcsError) -> dict[str, Any]:
    return {"action": action, "status": exc.status, "code": exc.code, "subCode": exc.sub_code, "message": str(exc)}


async def backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 6))))


def url(services: Services, call_key: str) -> str:
    return callback_url(services.settings.callback.base_url, services.settings.callback.secret, call_key)


async def record_new(services: Services, declared: Call) -> Call:
    """Insert a call the app just created; if a callback raced ahead and made the row, merge into it."""
    try:
        await services.store.insert(declared)
        return declared
    except CallExists:
        pass
    for attempt in range(MAX_WRITE_ATTEMPTS):
        found = await services.store.load_with_events(declared.id)
        if found is None:
            try:
                await services.store.insert(declared)
                return declared
            except CallExists:
                continue
        loaded, events = found
        now = services.clock()
        merged, commands = plans.advance(merge_declared(loaded.call, declared, events, now), now)
        try:
            await services.store.save(merged, loaded.etag, [])
        except ConcurrencyConflict:
            await backoff(attempt)
            continue
        await run(services, merged, commands)
        return merged
    raise StoreUnavailable(f"call {declared.id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")

# ---- read-modify-write and follow-ups ------------------------------------------------------------------------


async def update(services: Services, call_id: str, mutate: Callable[[Call, datetime], Call]
                  ) -> tuple[Call, list[plans.Command]]:
    """Change one call under optimistic concurrency; the plan's follow-ups are recorded in the same write."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        loaded = await services.store.load(call_id)
        if loaded is None:
            raise NotFound(f"no call with id {call_id!r}")
        now = services.clock()
        call, commands = plans.advance(mutate(loaded.call, now), now)
        try:
            await services.store.save(call, loaded.etag, [])
            return call, commands
        except ConcurrencyConflict:
            await backoff(attempt)
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


def accepted(invitation_id: str | None = None) -> Callable[[Operation, datetime], Operation]:
    def change(op: Operation, now: datetime) -> Operation:
        return replace(op, accepted_at=op.accepted_at or now, invitation_id=invitation_id or op.invitation_id,
                       updated_at=now)
    return change


def repeat_for(call: Call, context: str) -> Repeatability:
    op = ops.find(call.operations, context)
    return Repeatability.for_key(f"{call.id}:{context}", op.created_at if op else call.updated_at)


async def run(services: Services, call: Call, commands: list[plans.Command]) -> None:
    """Send a plan's follow-ups; each outcome is recorded and may lead to the next step."""
    for command in commands:
        repeat = repeat_for(call, command.context)
        connection_id = call.call_connection_id
        try:
            invitation_id = None
            if isinstance(command, plans.AddParticipant):
                invitation_id = await services.control.add_participant(
                    connection_id, parse_target(command.target, "ring"), command.caller_id, None,
                    command.timeout_seconds, None, None, command.context, repeat)
            elif isinstance(command, plans.CancelAddParticipant):
                await services.control.cancel_add_participant(connection_id, command.invitation_id, command.context,
                                                              repeat)
            elif isinstance(command, plans.RemoveParticipant):
                await services.control.remove_participant(connection_id, parse_target(command.target, "ring"),
                                                          command.context, repeat)
            elif isinstance(command, plans.Transfer):
                await services.control.transfer(connection_id, parse_target(command.target, "transfer"), None, None,
                                                None, command.context, repeat)
            elif isinstance(command, plans.HangUp):
                await services.control.hang_up(connection_id, command.for_everyone, repeat)
        except AcsError as exc:
            if exc.in_progress:
                # The first send of this step (same repeatability id) is still being carried out: it stands.
                log.info("follow-up %s of call %s is still in progress at ACS; left pending", type(command).__name__,
                         connection_id)
                continue
            log.warning("follow-up %s of call %s failed: status=%s code=%s", type(command).__name__,
                        connection_id, exc.status, exc.code)
            await settle(services, call.id, command.context, failed(exc))
            continue
        await settle(services, call.id, command.context, accepted(invitation_id))


