"""Daily figures: what each write of a call changed (domain.tally), counted as the write lands (metrics and the
daily rows), and read back per day and rule for GET /api/stats."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any, Awaitable

from shared import telemetry
from shared.bootstrap import Services
from shared.domain.tally import FIGURES, median, tally
from shared.errors import StoreUnavailable

log = logging.getLogger("callsteer")


async def observe(services: Services, before: Any | None, after: Any) -> None:
    """Count what a landed write of a call changed; a repeat, which changed nothing, counts nothing.

    The call is already stored: a failure here loses this count (logged), it never fails the call."""
    change = tally(before, after)
    if change is None:
        return
    if change.get("ringAnswered") and change.answer_seconds is not None:
        telemetry.ring_answered(change.rule, change.answer_seconds)
    if change.get("ringUnanswered"):
        telemetry.ring_unanswered(change.rule)
    await _count(services, change, after.id)


async def inserted(services: Services, call: Any, insert: Awaitable[None]) -> None:
    """Insert a new call and count it at the same time (one round trip of latency for a ringing caller, not two).

    If the insert fails (CallExists: a redelivery or a callback stored the call first; an outage), the count is
    taken back, and the caller counts what its merge or its redelivery changes, as after any write."""
    change = tally(None, call)
    if change is None or services.stats is None:
        await insert
        return
    counting = asyncio.ensure_future(_count(services, change, call.id))
    try:
        await insert
    except Exception:
        if await counting:
            await _count(services, change.taken_back(), call.id)
        raise
    await counting


async def _count(services: Services, change: Any, call_id: str) -> bool:
    """Add one tally to the daily rows; False when it was not counted (logged)."""
    if services.stats is None:
        return False
    try:
        await services.stats.add(change, call_id)
        return True
    except StoreUnavailable as exc:
        log.warning("call %s: daily figures not counted: %s", call_id, exc)
        return False


async def get_stats(services: Services, days: int) -> dict[str, Any]:
    """Per UTC day (the day each call started) and rule, the last `days` days up to today, oldest first."""
    today = services.clock().date()
    first = today - timedelta(days=days - 1)
    rows = await services.stats.days(first, today) if services.stats is not None else []
    by_day: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        rule = row.get("rule") or "?"
        figures = by_day.setdefault(row["PartitionKey"], {}).setdefault(
            rule, {"rule": rule, **{f: 0 for f in FIGURES}, "_times": {}})
        for figure in FIGURES:
            figures[figure] += int(row.get(figure) or 0)
        for slot, n in json.loads(row.get("answerTimes") or "{}").items():
            figures["_times"][slot] = figures["_times"].get(slot, 0) + n
    daily = []
    for offset in range(days):
        day = (first + timedelta(days=offset)).isoformat()
        rules = []
        for rule in sorted(by_day.get(day, {})):
            f = by_day[day][rule]
            rules.append({"rule": rule, **{k: f[k] for k in ("offered", "answered", "rejected", "redirected", "failed")},
                          "ringGroups": {"answered": f["ringAnswered"], "unanswered": f["ringUnanswered"],
                                         "medianAnswerSeconds": median(f["_times"])}})
        daily.append({"day": day, "rules": rules})
    return {"days": days, "from": first.isoformat(), "to": today.isoformat(), "daily": daily}
