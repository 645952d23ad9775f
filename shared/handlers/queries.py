"""The state API: one call (reconciled with ACS when it has been silent too long) and the listing."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from shared import telemetry
from shared.bootstrap import Services
from shared.domain.call import Call, acs_says_ended, reconcile_ended
from shared.errors import AcsError, ConcurrencyConflict, NotFound

log = logging.getLogger("callsteer")

async def get_call(services: Services, call_id: str) -> dict[str, Any]:
    """The stored call with its event log, or NotFound; a live call silent for long is checked with ACS first."""
    found = await services.store.load_with_events(call_id)
    if found is None:
        raise NotFound(f"no call with id {call_id!r}")
    loaded, events = found.loaded, found.events
    call = loaded.call
    telemetry.annotate_call(call)
    stale_after = timedelta(seconds=services.settings.stale_call_seconds)
    if not call.ended and call.call_connection_id and services.clock() - call.updated_at >= stale_after:
        call, events = await _reconcile(services, loaded, events)
    # Operations moved out of the main row (older, finished ones) come first, as they were sent.
    shown = replace(call, operations=found.archived + call.operations)
    return {**shown.to_dict(), "events": [e.to_dict() for e in events]}


async def _reconcile(services: Services, loaded: Any, events: list[Any]) -> tuple[Call, list[Any]]:
    """Ask ACS about a call that has been silent: if ACS no longer knows it, it ended unheard; record that."""
    call = loaded.call
    try:
        state = await services.control.call_state(call.call_connection_id)
    except AcsError as exc:
        log.warning("could not check stale call %s with ACS: status=%s", call.id, exc.status)
        return call, events
    now = services.clock()
    if not acs_says_ended(state):
        refreshed = replace(call, updated_at=now)
        records: list[Any] = []
    else:
        reason = ("ACS no longer knows the call" if state is None else "ACS says the call is disconnected")
        refreshed, record = reconcile_ended(call, now, f"{reason}; CallDisconnected never came")
        records = [record]
    try:
        await services.store.save(refreshed, loaded, records)
    except ConcurrencyConflict:
        return call, events  # a callback just changed it: its news is fresher than ours
    if records:
        log.warning("call %s was %s but ACS no longer knows it: recorded as disconnected", call.id, call.state)
    return refreshed, events + records


# What the listing leaves out of each call: the parts that can be large (read the call itself for them).
_NOT_LISTED = ("participants", "plan", "planState")


def summary(call: Call, operations_complete: bool = True) -> dict[str, Any]:
    """A call as the listing shows it: its recent operations (`operationsComplete` false when older ones were moved
    out of its main row; the call itself shows them all)."""
    shown = {k: v for k, v in call.to_dict().items() if k not in _NOT_LISTED}
    shown["operationsComplete"] = operations_complete
    return shown


async def list_calls(services: Services, limit: int, state: str | None, direction: str | None,
                     cursor: str | None = None) -> dict[str, Any]:
    """One page of calls, newest first, and the cursor of the next page (None after the last)."""
    page = await services.store.list_calls(limit, state=state, direction=direction, cursor=cursor)
    return {"calls": [summary(c, complete) for c, complete in zip(page.calls, page.operations_complete)],
            "next": page.next}

