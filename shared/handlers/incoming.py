"""IncomingCall: decide by the routing rules, carry the decision out through ACS, record it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from shared.adapters.acs import Repeatability
from shared.bootstrap import Services
from shared.domain.call import Call, answer_context, call_from_decision
from shared.domain.callback_tokens import inbound_call_key
from shared.domain.events import IncomingCall
from shared.domain.routing import Answer, Redirect, Reject
from shared.errors import AcsError
from shared.handlers.core import error_dict, record_new, url

log = logging.getLogger("callsteer")
# How old an IncomingCall may be for a redelivery to still reach a ringing caller.
REDELIVERY_WINDOW = timedelta(seconds=30)


async def on_incoming_call(services: Services, incoming: IncomingCall) -> Call | None:
    """Decide by the rules, carry the decision out through ACS, and record it (None: another delivery of the same
    event is carrying it out)."""
    now = services.clock()
    # Decided at the event's time, not at delivery: every redelivery of one event makes the same decision and so
    # repeats a byte-identical request (ACS answers a repeat whose body differs with 400).
    decision = services.rules.decide(incoming, incoming.event_time)
    call_key = inbound_call_key(incoming.event_id)
    # Derived from the event id: a redelivered or racing copy of this event repeats the very same ACS request,
    # which ACS answers once.
    repeat = Repeatability.for_key(call_key, incoming.event_time)
    connection_id, error = None, None
    try:
        if isinstance(decision, Answer):
            connection = await services.control.answer(incoming.incoming_call_context, url(services, call_key),
                                                       answer_context(decision.rule), repeat)
            connection_id = connection.call_connection_id
        elif isinstance(decision, Reject):
            await services.control.reject(incoming.incoming_call_context, decision.reason, repeat)
        elif isinstance(decision, Redirect):
            await services.control.redirect(incoming.incoming_call_context, decision.target, repeat)
    except AcsError as exc:
        if exc.in_progress:
            # 409 to a repeat: another delivery of this event (another instance, a racing redelivery) holds the
            # request and records its outcome. Nothing failed; record nothing.
            log.info("incoming call %s: %s by rule %r is being carried out by another delivery of event %s; "
                     "its outcome stands", incoming.correlation_id, decision.action, decision.rule, incoming.event_id)
            return None
        if exc.retryable and now - incoming.event_time < REDELIVERY_WINDOW:
            # ACS kept failing through our retries, but the caller may still be ringing: Event Grid's
            # redelivery repeats this request under the same repeatability id. Nothing is recorded yet, so a
            # later success is the call's only record.
            log.error("incoming call %s: %s by rule %r failed (status=%s code=%s); asking for redelivery",
                      incoming.correlation_id, decision.action, decision.rule, exc.status, exc.code)
            raise
        error = error_dict(decision.action, exc)
        log.error("incoming call %s: %s by rule %r failed: status=%s code=%s retryable=%s", incoming.correlation_id,
                  decision.action, decision.rule, exc.status, exc.code, exc.retryable)
    call = await record_new(services, call_from_decision(incoming, decision, call_key, services.clock(),
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


