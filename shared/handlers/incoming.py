"""IncomingCall: decide by the routing rules, carry the decision out through ACS, record it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from shared import telemetry
from shared.adapters.acs import Repeatability
from shared.bootstrap import Services
from shared.domain.call import Call, answer_context, call_from_decision
from shared.domain.callback_tokens import inbound_call_key
from shared.domain.events import IncomingCall
from shared.domain.routing import Answer, Redirect, Reject
from shared.errors import AcsError
from shared.domain.identifiers import PHONE
from shared.domain.legs import MAX_HOPS, read_leg
from shared.handlers.core import error_dict, record_new, url
from shared.handlers.legs import count_redirect, hops_so_far, made_by_the_app

log = logging.getLogger("callsteer")
# How old an IncomingCall may be for a redelivery to still reach a ringing caller.
REDELIVERY_WINDOW = timedelta(seconds=30)
# The rule name recorded for a call rejected because it was steered on too often.
HOP_LIMIT_RULE = "hop-limit"


async def on_incoming_call(services: Services, incoming: IncomingCall) -> Call | None:
    """Decide by the rules, carry the decision out through ACS, and record it (None: nothing to do, the call is the
    app's own leg, or another delivery of the same event is carrying it out)."""
    now = services.clock()
    leg = read_leg(services.settings.callback.secret, incoming.custom_headers, incoming.to.raw_id, incoming.event_time)
    if incoming.to.kind != PHONE and (leg is not None or await made_by_the_app(services, incoming)):
        # ACS rings an ACS user the app invited (ring group, add participant, transfer, redirect, created call) with
        # an IncomingCall too: the user's client answers it, the app must not.
        log.info("incoming call correlation=%s to=%s is the app's own leg (%s): no action, the target's client "
                 "answers it", incoming.correlation_id, incoming.to.masked(), "leg header" if leg else "legs row")
        return None
    # A leg to one of the resource's numbers re-enters and is routed by that number's rules, a bounded number of times.
    hop = leg.hop if leg else 0
    if hop > MAX_HOPS:
        decision: Any = _hop_limit(incoming, hop)
    else:
        # Decided at the event's time, not at delivery: every redelivery of one event makes the same decision and
        # so repeats a byte-identical request (ACS answers a repeat whose body differs with 400).
        decision = services.rules.decide(incoming, services.routing_time(incoming.event_time))
    hops_read = None
    if isinstance(decision, Redirect):
        counted = await count_redirect(services, incoming, hop, decision.target)
        if counted is None:
            decision = _hop_limit(incoming, MAX_HOPS + 1)
    elif isinstance(decision, Answer) and decision.plan is not None and leg is None:
        # Its follow-ups may steer it on: they need the redirects counted so far (read while ACS answers).
        hops_read = asyncio.ensure_future(hops_so_far(services, incoming))
    telemetry.annotate(correlation_id=incoming.correlation_id, rule=decision.rule, action=decision.action)
    call_key = inbound_call_key(incoming.event_id, incoming.event_time)
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
        if hops_read is not None and (exc.in_progress or (exc.retryable and now - incoming.event_time < REDELIVERY_WINDOW)):
            hops_read.cancel()  # nothing is recorded on these paths
        if exc.in_progress:
            # 409 to a repeat: another delivery of this event (another instance, a racing redelivery) holds the
            # request and records its outcome. Nothing failed; record nothing.
            log.info("incoming call %s: %s by rule %r is being carried out by another delivery of event %s; "
                     "its outcome stands", incoming.correlation_id, decision.action, decision.rule, incoming.event_id)
            return None
        if exc.retryable and now - services.routing_time(incoming.event_time) < REDELIVERY_WINDOW:
            # ACS kept failing through our retries, but the caller may still be ringing: Event Grid's
            # redelivery repeats this request under the same repeatability id. Nothing is recorded yet, so a
            # later success is the call's only record.
            log.error("incoming call %s: %s by rule %r failed (status=%s code=%s); asking for redelivery",
                      incoming.correlation_id, decision.action, decision.rule, exc.status, exc.code)
            telemetry.count_call(decision.rule, decision.action, "retry")
            raise
        error = error_dict(decision.action, exc)
        log.error("incoming call %s: %s by rule %r failed: status=%s code=%s retryable=%s", incoming.correlation_id,
                  decision.action, decision.rule, exc.status, exc.code, exc.retryable)
    if hops_read is not None:
        hop = max(hop, await hops_read)
    declared = call_from_decision(incoming, decision, call_key, services.clock(), connection_id, error)
    if hop:
        declared = replace(declared, decision={**(declared.decision or {}), "hop": hop})
    call = await record_new(services, declared)
    telemetry.count_call(decision.rule, decision.action, "failed" if error else "ok")
    log.info("incoming call correlation=%s connection=%s from=%s to=%s rule=%r action=%s%s state=%s",
             incoming.correlation_id, connection_id or "-", incoming.from_.masked(), incoming.to.masked(),
             decision.rule, decision.action, _decision_detail(decision), call.state)
    return call


def _hop_limit(incoming: IncomingCall, hop: int) -> Reject:
    log.warning("incoming call correlation=%s to=%s rejected: the app has steered this call %d times, the limit is %d "
                "(a loop between the resource's numbers?)", incoming.correlation_id, incoming.to.masked(), hop - 1,
                MAX_HOPS)
    return Reject(rule=HOP_LIMIT_RULE, reason="none")


def _decision_detail(decision: Any) -> str:
    if isinstance(decision, Reject):
        return f" reason={decision.reason}"
    if isinstance(decision, Redirect):
        return f" target={decision.target.masked()}"
    return ""


