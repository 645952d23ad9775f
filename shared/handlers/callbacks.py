"""Callbacks: authenticate, apply the events to their call under optimistic concurrency, run the follow-ups."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.bootstrap import Services
from shared.adapters.store import DuplicateEvent
from shared.domain import plan as plans
from shared.domain.call import Call, apply_event, new_call_from_event
from shared.domain.callback_tokens import token_matches
from shared.domain.events import CallEvent
from shared.errors import ConcurrencyConflict, StoreUnavailable, Unauthorized
from shared.adapters.acs import REPEATABILITY_WINDOW
from shared.domain import operations as ops
from shared.handlers.core import MAX_WRITE_ATTEMPTS, backoff, given_up, run, settle

log = logging.getLogger("callsteer")
# A step is sent again only while its Repeatability-First-Sent (the step's creation) is inside ACS's 5-minute
# window, with a margin for the time the request takes: later, a repeat would be refused (412) or, worse, not
# recognised as one, so the step is recorded as failed instead of being sent twice.
RESEND_LIMIT = REPEATABILITY_WINDOW - timedelta(seconds=30)

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
            await run(services, call, commands)
        if dup:
            # A repeat may mean our first answer to ACS was lost after the write landed: any step that write
            # recorded but ACS never accepted is sent now, under its repeatability id.
            await _resend_unsent(services, connection_id)
    return CallbackOutcome(applied, duplicates)


async def _resend_unsent(services: Services, call_id: str) -> None:
    loaded = await services.store.load(call_id)
    if loaded is not None:
        now, commands = services.clock(), []
        for command in plans.unsent(loaded.call):
            op = ops.find(loaded.call.operations, command.context)
            if op is not None and now - op.created_at >= RESEND_LIMIT:
                log.warning("call %s: follow-up %s was never accepted and is older than the repeatability window; "
                            "recorded as failed, not sent again", call_id, type(command).__name__)
                await settle(services, call_id, command.context,
                             given_up("not accepted by ACS within the repeatability window; not sent again"))
            else:
                commands.append(command)
        if commands:
            log.warning("call %s: sending %d follow-up(s) recorded but never accepted", call_id, len(commands))
            await run(services, loaded.call, commands)


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
            await backoff(attempt)
            continue
        log.info("callback connection=%s correlation=%s events=%s state=%s->%s follow-ups=%d", connection_id,
                 call.correlation_id or "-", ",".join(e.name for e in pending), before, call.state, len(commands))
        return call, len(pending), duplicates, commands
    raise StoreUnavailable(f"call {connection_id} kept changing under {MAX_WRITE_ATTEMPTS} write attempts")


