"""Service layer: each handler loads, decides (pure domain), acts through an adapter, and saves."""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from shared.adapters.acs import Connection, Repeatability
from shared.adapters.store import CallExists, DuplicateEvent
from shared.bootstrap import Services
from shared.domain import operations as ops
from shared.domain import plan as plans
from shared.domain import requests as rq
from shared.domain.call import (
    CONNECTING, OUTBOUND, Call, answer_context, apply_event, call_from_decision, merge_declared, new_call_from_event,
    reconcile_ended,
)
from shared.domain.callback_tokens import callback_url, inbound_call_key, new_call_key, token_matches
from shared.domain.events import CallEvent, IncomingCall
from shared.domain.identifiers import parse_target
from shared.domain.operations import Operation
from shared.domain.routing import Answer, Redirect, Reject
from shared.errors import (
    AcsError, ConcurrencyConflict, Conflict, NotFound, StoreUnavailable, Unauthorized, ValidationError,
)

log = logging.getLogger("callsteer")
# Optimistic writes retried under contention (jittered, growing backoff) before answering 503.
MAX_WRITE_ATTEMPTS = 12
# How old an IncomingCall may be for a redelivery to still reach a ringing caller.
REDELIVERY_WINDOW = timedelta(seconds=30)


def _error_dict(action: str, exc: AcsError) -> dict[str, Any]:
    return {"action": action, "status": exc.status, "code": exc.code, "subCode": exc.sub_code, "message": str(exc)}


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.01 * (2 ** min(attempt, 6))))


def _url(services: Services, call_key: str) -> str:
    return callback_url(services.settings.callback.base_url, services.settings.callback.secret, call_key)


# ---- incoming calls ------------------------------------------------------------------------------------------


async def on_incoming_call(services: Services, incoming: IncomingCall) -> Call:
    """Decide by the rules, carry the decision out through ACS, and record it."""
    now = services.clock()
    decision = services.rules.decide(incoming, now)
    call_key = inbound_call_key(incoming.event_id)
    # Derived from the event id: a redelivered or racing copy of this event repeats the very same ACS request,
    # which ACS answers once.
    repeat = Repeatability.for_key(call_key, incoming.event_time)
    connection_id, error = None, None
    try:
        if isinstance(decision, Answer):
            connection = await services.control.answer(incoming.incoming_call_context, _url(services, call_key),
                                                       answer_context(decision.rule), repeat)
            connection_id = connection.call_connection_id
        elif isinstance(decision, Reject):
            await services.control.reject(incoming.incoming_call_context, decision.reason, repeat)
        elif isinstance(decision, Redirect):
            await services.control.redirect(incoming.incoming_call_context, decision.target, repeat)
    except AcsError as exc:
        if exc.retryable and now - incoming.event_time < REDELIVERY_WINDOW:
            # ACS kept failing through our retries, but the caller may still be ringing: Event Grid's
            # redelivery repeats this request under the same repeatability id. Nothing is recorded yet, so a
            # later success is the call's only record.
            log.error("incoming call %s: %s by rule %r failed (status=%s code=%s); asking for redelivery",
                      incoming.correlation_id, decision.action, decision.rule, exc.status, exc.code)
            raise
        error = _error_dict(decision.action, exc)
        log.error("incoming call %s: %s by rule %r failed: status=%s code=%s retryable=%s", incoming.correlation_id,
                  decision.action, decision.rule, exc.status, exc.code, exc.retryable)
    call = await _record_new(services, call_from_decision(incoming, decision, call_key, services.clock(),
                                                          connection_id, error))
    log.info("incoming call correlation=%s connection=%s from=%s to=%s rule=%r action=%s%s state=%s",
             incoming.correlation_id, connection_id or "-", incoming.from_.masked(), incoming.to.masked(),
             decision.rule, decision.action, _decision_detail(decision), call.state)
    return call


def _decision_detail(decision: Any) -> str:
    if isinstance(decision, Reject):
        return f" reason={decision.reason}"
    if isinstance(decision, Redirect):
        return f" target={decision.target.masked()}"
    return ""


async def _record_new(services: Services, declared: Call) -> Call:
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
            await _backoff(attempt)
            continue
        await _run(services, merged, commands)
        return merged
    raise StoreUnavailable(f"call {declared.id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


# ---- callbacks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    applied: int
    duplicates: int


async def authenticate_callback(services: Services, call_key: str, token: str, authorization: str | None) -> None:
    """Refuse a callback unless its URL token was made by this app for this call key and ACS signed it."""
    if not token_matches(services.settings.callback.secret, call_key, token):
        raise Unauthorized("callback URL token does not match its call key")
    if services.callback_verifier is not None:
        await services.callback_verifier.verify(authorization)


async def on_callback(services: Services, call_key: str, events: list[CallEvent]) -> CallbackOutcome:
    """Apply callback events to their calls, then carry out the follow-ups they lead to; repeats change nothing."""
    applied = duplicates = 0
    by_call: dict[str, list[CallEvent]] = {}
    for event in events:
        by_call.setdefault(event.call_connection_id, []).append(event)
    for connection_id, call_events in by_call.items():
        call, done, dup, commands = await _apply_events(services, call_key, connection_id, call_events)
        applied, duplicates = applied + done, duplicates + dup
        if call is not None:
            await _run(services, call, commands)
        if dup:
            # A repeat may mean our first answer to ACS was lost after the write landed: any step that write
            # recorded but ACS never accepted is sent now, under its repeatability id.
            await _resend_unsent(services, connection_id)
    return CallbackOutcome(applied, duplicates)


async def _resend_unsent(services: Services, call_id: str) -> None:
    loaded = await services.store.load(call_id)
    if loaded is not None:
        commands = plans.unsent(loaded.call)
        if commands:
            log.warning("call %s: sending %d follow-up(s) recorded but never accepted", call_id, len(commands))
            await _run(services, loaded.call, commands)


async def _apply_events(services: Services, call_key: str, connection_id: str, events: list[CallEvent]
                        ) -> tuple[Call | None, int, int, list[plans.Command]]:
    pending = list(events)
    duplicates = 0
    for attempt in range(MAX_WRITE_ATTEMPTS):
        if not pending:
            return None, 0, duplicates, []
        loaded = await services.store.load(connection_id)
        if loaded is not None and not hmac.compare_digest(loaded.call.call_key.encode(), call_key.encode()):
            raise Unauthorized("callback events name a call that this callback URL was not issued for")
        now = services.clock()
        call = loaded.call if loaded else new_call_from_event(pending[0], call_key, now)
        before = call.state
        records = []
        for event in pending:
            call, record = apply_event(call, event, now)
            records.append(record)
        call, commands = plans.advance(call, now)
        try:
            await services.store.save(call, loaded.etag if loaded else None, records)
        except DuplicateEvent as dup:
            repeated = pending.pop(dup.index)
            duplicates += 1
            log.info("callback connection=%s: event %s (%s) was already applied; skipped", connection_id,
                     repeated.id, repeated.name)
            continue
        except ConcurrencyConflict:
            # Another instance wrote this call between our read and write: read again and re-apply.
            await _backoff(attempt)
            continue
        log.info("callback connection=%s correlation=%s events=%s state=%s->%s follow-ups=%d", connection_id,
                 call.correlation_id or "-", ",".join(e.name for e in pending), before, call.state, len(commands))
        return call, len(pending), duplicates, commands
    raise StoreUnavailable(f"call {connection_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


# ---- read-modify-write and follow-ups ------------------------------------------------------------------------


async def _update(services: Services, call_id: str, mutate: Callable[[Call, datetime], Call]
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
            await _backoff(attempt)
    raise StoreUnavailable(f"call {call_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


async def _settle(services: Services, call_id: str, context: str,
                  change: Callable[[Operation, datetime], Operation]) -> Call:
    """Record what an ACS response said about an operation (never undoing a result an event already gave)."""

    def mutate(call: Call, now: datetime) -> Call:
        op = ops.find(call.operations, context)
        if op is None:
            return call
        return replace(call, operations=ops.upsert(call.operations, change(op, now)))

    call, commands = await _update(services, call_id, mutate)
    await _run(services, call, commands)
    return call


def _failed(exc: AcsError) -> Callable[[Operation, datetime], Operation]:
    def change(op: Operation, now: datetime) -> Operation:
        if op.final:
            return op
        return replace(op, status=ops.FAILED, updated_at=now,
                       result={"code": exc.status, "subCode": exc.sub_code, "message": str(exc), "acsCode": exc.code})
    return change


def _accepted(invitation_id: str | None = None) -> Callable[[Operation, datetime], Operation]:
    def change(op: Operation, now: datetime) -> Operation:
        return replace(op, accepted_at=op.accepted_at or now, invitation_id=invitation_id or op.invitation_id,
                       updated_at=now)
    return change


def _repeat(call: Call, context: str) -> Repeatability:
    op = ops.find(call.operations, context)
    return Repeatability.for_key(f"{call.id}:{context}", op.created_at if op else call.updated_at)


async def _run(services: Services, call: Call, commands: list[plans.Command]) -> None:
    """Send a plan's follow-ups; each outcome is recorded and may lead to the next step."""
    for command in commands:
        repeat = _repeat(call, command.context)
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
            elif isinstance(command, plans.Transfer):
                await services.control.transfer(connection_id, parse_target(command.target, "transfer"), None, None,
                                                None, command.context, repeat)
            elif isinstance(command, plans.HangUp):
                await services.control.hang_up(connection_id, command.for_everyone, repeat)
        except AcsError as exc:
            log.warning("follow-up %s of call %s failed: status=%s code=%s", type(command).__name__,
                        connection_id, exc.status, exc.code)
            await _settle(services, call.id, command.context, _failed(exc))
            continue
        await _settle(services, call.id, command.context, _accepted(invitation_id))


# ---- control API ---------------------------------------------------------------------------------------------


def _context(given: str | None, action: str) -> str:
    return given or f"{action}-{uuid.uuid4().hex[:12]}"


async def _act(services: Services, call_id: str, action: str, context: str, target: str | None,
               send: Callable[[Call, Repeatability], Awaitable[Any]], transferee: str | None = None) -> Any:
    """Record an action as a pending operation, send it, and record a refusal; its event records the result."""

    def declare(call: Call, now: datetime) -> Call:
        if call.ended:
            raise Conflict(f"call {call_id} has ended: it is {call.state}", state=call.state)
        if not call.call_connection_id:
            raise Conflict(f"call {call_id} has no call connection", state=call.state)
        if ops.find(call.operations, context) is not None:
            raise ValidationError(f"operationContext {context!r} is already used by an operation of this call",
                                  field="operationContext")
        operation = Operation(context=context, action=action, status=ops.PENDING, created_at=now, updated_at=now,
                              source="api", target=target, transferee=transferee)
        return replace(call, operations=ops.upsert(call.operations, operation))

    call, commands = await _update(services, call_id, declare)
    await _run(services, call, commands)
    try:
        result = await send(call, _repeat(call, context))
    except AcsError as exc:
        await _settle(services, call_id, context, _failed(exc))
        raise
    await _settle(services, call_id, context, _accepted(result if action == ops.ADD_PARTICIPANT else None))
    return result


async def create_call(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """CreateCall to one target (1:1) or several (group); recorded as outbound and connecting."""
    request = rq.parse_create_call(body, services.settings.acs.caller_id)
    call_key, now = new_call_key(), services.clock()
    context = _context(request.operation_context, ops.CREATE_CALL)
    to = ", ".join(t.display for t in request.targets)
    connection = await services.control.create_call(request.targets, _url(services, call_key), request.caller_id,
                                                    request.display_name, context,
                                                    Repeatability.for_key(call_key, now))
    call = await _record_new(services, _outbound(connection, call_key, context, ops.CREATE_CALL, to, now,
                                                 from_=request.caller_id))
    log.info("created call connection=%s targets=%d", connection.call_connection_id, len(request.targets))
    return {"callConnectionId": call.id, "operationContext": context, "state": call.state}


async def connect_call(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """ConnectCall to an existing server call, group call or room."""
    request = rq.parse_connect(body)
    call_key, now = new_call_key(), services.clock()
    context = _context(request.operation_context, ops.CONNECT)
    connection = await services.control.connect(request.locator_kind, request.locator_id, _url(services, call_key),
                                                context, Repeatability.for_key(call_key, now))
    call = await _record_new(services, _outbound(connection, call_key, context, ops.CONNECT,
                                                 f"{request.locator_kind}:{request.locator_id}", now))
    return {"callConnectionId": call.id, "operationContext": context, "state": call.state}


def _outbound(connection: Connection, call_key: str, context: str, action: str, target: str, now: datetime,
              from_: str | None = None) -> Call:
    operation = Operation(context=context, action=action, status=ops.PENDING, created_at=now, updated_at=now,
                          target=target)
    return Call(id=connection.call_connection_id, call_key=call_key, direction=OUTBOUND, state=CONNECTING,
                started_at=now, updated_at=now, call_connection_id=connection.call_connection_id,
                server_call_id=connection.server_call_id, correlation_id=connection.correlation_id, from_=from_,
                to=target if action == ops.CREATE_CALL else None, operations=(operation,))


async def transfer(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    request = rq.parse_transfer(body)
    context = _context(request.operation_context, ops.TRANSFER)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.transfer(call.call_connection_id, request.target, request.transferee,
                                        request.custom.sip_with_uui(request.user_to_user), request.custom.voip or None,
                                        context, repeat)

    await _act(services, call_id, ops.TRANSFER, context, request.target.display, send,
               transferee=request.transferee.display if request.transferee else None)
    return {"operationContext": context}


async def add_participant(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    request = rq.parse_add_participant(body, services.settings.acs.caller_id)
    context = _context(request.operation_context, ops.ADD_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> str:
        return await services.control.add_participant(
            call.call_connection_id, request.target, request.caller_id, request.display_name,
            request.invitation_timeout, request.custom.sip or None, request.custom.voip or None, context, repeat)

    invitation_id = await _act(services, call_id, ops.ADD_PARTICIPANT, context, request.target.display, send)
    return {"invitationId": invitation_id, "operationContext": context}


async def cancel_invitation(services: Services, call_id: str, invitation_id: str, context: str | None
                            ) -> dict[str, Any]:
    if not invitation_id or len(invitation_id) > 128:
        raise ValidationError("invitationId is missing or too long", field="invitationId")
    context = _context(context, ops.CANCEL_ADD_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.cancel_add_participant(call.call_connection_id, invitation_id, context, repeat)

    await _act(services, call_id, ops.CANCEL_ADD_PARTICIPANT, context, invitation_id, send)
    return {"operationContext": context}


async def remove_participant(services: Services, call_id: str, raw_id: str, context: str | None) -> dict[str, Any]:
    target = parse_target(raw_id, "rawId")
    context = _context(context, ops.REMOVE_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.remove_participant(call.call_connection_id, target, context, repeat)

    await _act(services, call_id, ops.REMOVE_PARTICIPANT, context, target.display, send)
    return {"operationContext": context}


async def hang_up(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    for_everyone = rq.parse_hang_up(body)
    context = _context(None, ops.HANG_UP)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.hang_up(call.call_connection_id, for_everyone, repeat)

    await _act(services, call_id, ops.HANG_UP, context, "everyone" if for_everyone else "app", send)
    return {"operationContext": context, "forEveryone": for_everyone}


# ---- state API -----------------------------------------------------------------------------------------------


async def get_call(services: Services, call_id: str) -> dict[str, Any]:
    """The stored call with its event log, or NotFound; a live call silent for long is checked with ACS first."""
    found = await services.store.load_with_events(call_id)
    if found is None:
        raise NotFound(f"no call with id {call_id!r}")
    loaded, events = found
    call = loaded.call
    stale_after = timedelta(seconds=services.settings.stale_call_seconds)
    if not call.ended and call.call_connection_id and services.clock() - call.updated_at >= stale_after:
        call, events = await _reconcile(services, loaded, events)
    return {**call.to_dict(), "events": [e.to_dict() for e in events]}


async def _reconcile(services: Services, loaded: Any, events: list[Any]) -> tuple[Call, list[Any]]:
    """Ask ACS about a call that has been silent: if ACS no longer knows it, it ended unheard; record that."""
    call = loaded.call
    try:
        state = await services.control.call_state(call.call_connection_id)
    except AcsError as exc:
        log.warning("could not check stale call %s with ACS: status=%s", call.id, exc.status)
        return call, events
    now = services.clock()
    if state is not None and state != "disconnected":
        refreshed = replace(call, updated_at=now)
        records: list[Any] = []
    else:
        refreshed, record = reconcile_ended(call, now, "ACS no longer knows the call; CallDisconnected never came")
        records = [record]
    try:
        await services.store.save(refreshed, loaded.etag, records)
    except ConcurrencyConflict:
        return call, events  # a callback just changed it: its news is fresher than ours
    if records:
        log.warning("call %s was %s but ACS no longer knows it: recorded as disconnected", call.id, call.state)
    return refreshed, events + records


async def list_calls(services: Services, limit: int, state: str | None, direction: str | None) -> list[dict[str, Any]]:
    """Calls, newest first."""
    return [c.to_dict() for c in await services.store.list_calls(limit, state=state, direction=direction)]

