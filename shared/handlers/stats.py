"""Daily figures: what each write of a call changed (domain.tally), counted as the write lands (metrics and the
daily rows), and read back per day and rule for GET /api/stats."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

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
    if services.stats is None:
        return
    try:
        await services.stats.add(change, after.id)
    except StoreUnavailable as exc:
        log.warning("call %s: daily figures not counted: %s", after.id, exc)


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
