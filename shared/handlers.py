"""Service layer: each handler loads, decides (pure domain), acts through an adapter, and saves."""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from dataclasses import dataclass
from typing import Any

from shared.adapters.acs import Repeatability
from shared.adapters.store import DuplicateEvent
from shared.bootstrap import Services
from shared.domain.call import Call, apply_event, call_from_decision, new_call_from_event
from shared.domain.callback_tokens import callback_url, inbound_call_key, token_matches
from shared.domain.events import CallEvent, IncomingCall
from shared.domain.routing import Answer, Redirect, Reject
from shared.errors import AcsError, ConcurrencyConflict, NotFound, StoreUnavailable, Unauthorized

log = logging.getLogger("callsteer")
MAX_WRITE_ATTEMPTS = 8


def _error_dict(action: str, exc: AcsError) -> dict[str, Any]:
    return {"action": action, "status": exc.status, "code": exc.code, "subCode": exc.sub_code, "message": str(exc)}


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
            url = callback_url(services.settings.callback.base_url, services.settings.callback.secret, call_key)
            connection = await services.control.answer(incoming.incoming_call_context, url,
                                                       f"answer:{decision.rule}", repeat)
            connection_id = connection.call_connection_id
        elif isinstance(decision, Reject):
            await services.control.reject(incoming.incoming_call_context, decision.reason, repeat)
        elif isinstance(decision, Redirect):
            await services.control.redirect(incoming.incoming_call_context, decision.target, repeat)
    except AcsError as exc:
        error = _error_dict(decision.action, exc)
        log.error("incoming call %s: %s by rule %r failed: status=%s code=%s retryable=%s", incoming.correlation_id,
                  decision.action, decision.rule, exc.status, exc.code, exc.retryable)
    call = call_from_decision(incoming, decision, call_key, services.clock(), connection_id, error)
    await services.store.record_decision(call)
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
    """Apply callback events to their calls; repeated events change nothing."""
    applied = duplicates = 0
    by_call: dict[str, list[CallEvent]] = {}
    for event in events:
        by_call.setdefault(event.call_connection_id, []).append(event)
    for connection_id, call_events in by_call.items():
        done, dup = await _apply_events(services, call_key, connection_id, call_events)
        applied, duplicates = applied + done, duplicates + dup
    return CallbackOutcome(applied, duplicates)


async def _apply_events(services: Services, call_key: str, connection_id: str,
                        events: list[CallEvent]) -> tuple[int, int]:
    pending = list(events)
    duplicates = 0
    for attempt in range(MAX_WRITE_ATTEMPTS):
        if not pending:
            return 0, duplicates
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
            await asyncio.sleep(random.uniform(0, 0.01 * (2 ** attempt)))
            continue
        log.info("callback connection=%s correlation=%s events=%s state=%s->%s", connection_id,
                 call.correlation_id or "-", ",".join(e.name for e in pending), before, call.state)
        return len(pending), duplicates
    raise StoreUnavailable(f"call {connection_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


async def get_call(services: Services, call_id: str) -> dict[str, Any]:
    """The stored call with its event log, or NotFound."""
    found = await services.store.load_with_events(call_id)
    if found is None:
        raise NotFound(f"no call with id {call_id!r}")
    call, events = found
    return {**call.to_dict(), "events": [e.to_dict() for e in events]}


async def list_calls(services: Services, limit: int, state: str | None, direction: str | None) -> list[dict[str, Any]]:
    """Calls, newest first."""
    return [c.to_dict() for c in await services.store.list_calls(limit, state=state, direction=direction)]

