"""GET /api/stats after a set of calls placed through the emulator: each rule's offered, answered, rejected,
redirected and failed calls, ring groups answered and unanswered with the median answer time; a redelivery counts
nothing; reading the figures is one Table query whatever the number of calls."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.bootstrap import get_services
from shared.domain.tally import Tally
from tests.e2e.conftest import ring_agent
from tests.e2e.test_telemetry import descendants, invocations, otel  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
FIELDS = ("offered", "answered", "rejected", "redirected", "failed")


async def figures(stack) -> dict[str, dict[str, Any]]:
    """Per rule, the figures of the last two days added up (a call placed just before midnight UTC counts on the
    day it started)."""
    status, body = await stack.get("/api/stats?days=2")
    assert status == 200, body
    out: dict[str, dict[str, Any]] = {}
    for day in body["daily"]:
        for row in day["rules"]:
            f = out.setdefault(row["rule"], {k: 0 for k in FIELDS} | {"ringAnswered": 0, "ringUnanswered": 0,
                                                                        "median": None})
            for k in FIELDS:
                f[k] += row[k]
            f["ringAnswered"] += row["ringGroups"]["answered"]
            f["ringUnanswered"] += row["ringGroups"]["unanswered"]
            f["median"] = row["ringGroups"]["medianAnswerSeconds"] if row["ringGroups"]["answered"] else f["median"]
    return out


def delta(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], rule: str) -> dict[str, int]:
    zero = {k: 0 for k in FIELDS} | {"ringAnswered": 0, "ringUnanswered": 0}
    b, a = before.get(rule, zero), after.get(rule, zero)
    return {k: a[k] - b[k] for k in zero if a[k] - b[k]}


async def settle(stack, predicate, attempts: int = 30) -> dict[str, dict[str, Any]]:
    """The figures once `predicate` holds for them (follow-ups chain through several callbacks)."""
    for _ in range(attempts):
        await stack.emulator.idle()
        now = await figures(stack)
        if predicate(now):
            return now
    return now


async def test_figures_count_each_rules_calls_by_outcome(stack):
    before = await figures(stack)
    await stack.ring(from_="+14255550801", to="+18005550100")          # support: answered
    await stack.ring(from_="+14255550802", to="+18005550100")          # support: answered
    await stack.ring(from_="+14255550803", to="+18005550102")          # busy-line: rejected
    await stack.ring(from_="+19005550804", to="+18005550100")          # block-premium: rejected
    await stack.ring(from_="+14255550805", to="+18005550177")          # overflow: redirected
    stack.emulator.inject_fault("RedirectCall", status=500, count=20)  # to-agent: failed (too old to redeliver)
    event = stack.emulator.incoming_call(from_="+14255550806", to="+18005550178")
    event["eventTime"] = (datetime.now(timezone.utc) - timedelta(minutes=2)).isoformat()
    assert await stack.emulator.deliver_incoming_call(event) == 200
    stack.emulator.clear_faults()
    after = await figures(stack)
    assert delta(before, after, "support") == {"offered": 2, "answered": 2}
    assert delta(before, after, "busy-line") == {"offered": 1, "rejected": 1}
    assert delta(before, after, "block-premium") == {"offered": 1, "rejected": 1}
    assert delta(before, after, "overflow") == {"offered": 1, "redirected": 1}
    assert delta(before, after, "to-agent") == {"offered": 1, "failed": 1}


async def test_a_redelivered_incoming_call_counts_once(stack):
    before = await figures(stack)
    event = await stack.ring(from_="+14255550811", to="+18005550103")  # closed-line: rejected
    assert await stack.emulator.deliver_incoming_call(json.loads(json.dumps(event))) == 200
    await stack.emulator.idle()
    assert delta(before, await figures(stack), "closed-line") == {"offered": 1, "rejected": 1}


async def test_ring_groups_answered_with_their_median_answer_time_and_unanswered(stack):
    before = await figures(stack)
    stack.emulator.script_target(ring_agent(1), "answer")
    stack.emulator.script_target(ring_agent(2), "no-answer")
    stack.emulator.script_target("+14255550111", "no-answer")
    await stack.ring(from_="+14255550821", to="+18005550120")          # ring-all: answered by agent 1
    stack.emulator.script_target(ring_agent(7), "decline")
    await stack.ring(from_="+14255550822", to="+18005550123")          # ring-then-hang-up: nobody answers
    after = await settle(stack, lambda f: delta(before, f, "ring-all").get("ringAnswered")
                         and delta(before, f, "ring-then-hang-up").get("ringUnanswered"))
    assert delta(before, after, "ring-all") == {"offered": 1, "answered": 1, "ringAnswered": 1}
    assert delta(before, after, "ring-then-hang-up") == {"offered": 1, "answered": 1, "ringUnanswered": 1}
    assert after["ring-all"]["median"] is not None and 0 <= after["ring-all"]["median"] < 60


async def test_every_requested_day_is_listed_oldest_first_and_days_is_bounded(stack):
    status, body = await stack.get("/api/stats")
    assert status == 200 and body["days"] == 7 and len(body["daily"]) == 7
    today = datetime.now(timezone.utc).date()
    assert body["to"] in (today.isoformat(), (today - timedelta(days=1)).isoformat())
    days = [d["day"] for d in body["daily"]]
    assert days == sorted(days) and days[0] == body["from"] and days[-1] == body["to"]
    status, body = await stack.get("/api/stats?days=31")
    assert status == 200 and len(body["daily"]) == 31
    for bad in ("0", "32", "-1", "seven", "1.5"):
        status, problem = await stack.get(f"/api/stats?days={bad}")
        assert status == 400 and problem["field"] == "days", (bad, problem)


async def test_reading_the_figures_is_one_table_query_not_a_scan_of_the_calls(stack, otel):  # noqa: F811
    await stack.ring(from_="+14255550831", to="+18005550100")
    status, _ = await stack.get("/api/stats?days=31")
    assert status == 200
    [span] = invocations(otel["exporter"], "get_stats")
    requests = [s for s in descendants(otel["exporter"], span) if s.attributes.get("url.full")]
    assert len(requests) == 1, [s.attributes["url.full"] for s in requests]
    assert "/dailystats()" in requests[0].attributes["url.full"] and "/calls" not in requests[0].attributes["url.full"]


async def test_concurrent_counts_of_one_rule_in_one_process_all_land(stack):
    """Calls of one busy rule counted at the same moment by one instance: none is lost to the others' writes."""
    services = await get_services()
    day = datetime.now(timezone.utc).date()
    before = await figures(stack)
    count = Tally(day=day, rule="concurrent-counts", changes=(("offered", 1), ("answered", 1)))
    await asyncio.gather(*(services.stats.add(count, f"call-{n}") for n in range(40)))
    after = await figures(stack)
    assert delta(before, after, "concurrent-counts") == {"offered": 40, "answered": 40}
