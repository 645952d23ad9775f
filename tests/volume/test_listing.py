"""Listing calls costs the same however many calls are stored: a page of 50 is at most 2 Table requests, counted at
a proxy in front of Azurite, through the registered `list_calls` function, with and without filters; pages follow
each other by cursor, newest first, and each call appears once with its current state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import pytest
import pytest_asyncio
from azure.data.tables.aio import TableClient

from devtools.azurite import Azurite
from azure.core.exceptions import ResourceExistsError

from devtools.bench.growth import stored_call  # the benchmark's synthetic calls, in the app's row format
from devtools.bench.proxy import CountingProxy
from shared.adapters import call_rows
from shared.adapters.store import TableCallStore

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def counted(stack, settings_changed) -> AsyncIterator[tuple[CountingProxy, TableCallStore]]:
    """A fresh Azurite behind a counting proxy; the app's settings point at the proxy."""
    with Azurite() as fresh:
        proxy = await CountingProxy("tables", fresh.port).start()
        settings_changed(TABLES_CONNECTION_STRING=fresh.connection_string.replace(f":{fresh.port}/", f":{proxy.port}/"))
        filler = TableCallStore(TableClient.from_connection_string(fresh.connection_string, "calls"))
        try:
            yield proxy, filler
        finally:
            await filler.close()
            await proxy.stop()


async def fill(store: TableCallStore, first: int, count: int, base: datetime) -> None:
    """Main rows written directly in the app's own row format (call_rows.layout), as the store writes them."""
    gate = asyncio.Semaphore(32)
    table = store._table

    async def one(n: int) -> None:
        async with gate:
            await table.create_entity(call_rows.layout(stored_call(n, base + timedelta(seconds=n)), None, []).main)

    try:
        await table.create_table()
    except ResourceExistsError:
        pass
    await asyncio.gather(*(one(n) for n in range(first, first + count)))


async def listed(stack, proxy: CountingProxy, query: str) -> tuple[dict, int]:
    before = proxy.requests
    status, body = await stack.get(f"/api/calls?{query}")
    assert status == 200, body
    return body, proxy.requests - before


async def test_a_page_of_50_costs_the_same_with_300_and_3000_calls_stored(stack, counted):
    proxy, filler = counted
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    costs: dict[int, dict[str, int]] = {}
    for total in (300, 3000):
        await fill(filler, len(costs) and 300 or 0, total - (300 if costs else 0), base)
        costs[total] = {}
        for query in ("limit=50", "limit=50&state=failed", "limit=50&state=failed&direction=outbound",
                      "limit=50&direction=inbound"):
            await listed(stack, proxy, query)  # the app's services and connections are made
            page, requests = await listed(stack, proxy, query)
            costs[total][query] = requests
            calls = page["calls"]
            assert len(calls) == 50 and page["next"], (query, len(calls))
            started = [c["startedAt"] for c in calls]
            assert started == sorted(started, reverse=True), query
            assert started[0] == (base + timedelta(seconds=total - 1)).isoformat() or "state" in query \
                or "direction" in query
            for key, value in (part.split("=") for part in query.split("&")[1:]):
                assert all(c[key] == value for c in calls), (query, key)
    assert costs[300] == costs[3000], costs
    assert all(requests <= 2 for by_query in costs.values() for requests in by_query.values()), costs


async def test_pages_follow_each_other_by_cursor_and_every_call_appears_once(stack, counted):
    proxy, filler = counted
    base = datetime(2026, 10, 1, tzinfo=timezone.utc)
    await fill(filler, 0, 230, base)
    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        page, requests = await listed(stack, proxy, f"limit=50{'&cursor=' + cursor if cursor else ''}")
        assert requests <= 2
        seen += [c["id"] for c in page["calls"]]
        pages += 1
        if not page["next"]:
            break
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 230 and pages in (5, 6)
    status, problem = await stack.get("/api/calls?cursor=not-a-cursor")
    assert status == 400 and problem["field"] == "cursor"


async def test_a_call_is_listed_once_with_its_current_state_through_its_life(stack):
    from tests.reliability.helpers import answered_call

    call, _, event = await answered_call(stack, "+14255551201")

    async def listed_states() -> list[str]:
        status, page = await stack.get("/api/calls?limit=500")
        return [c["state"] for c in page["calls"] if c["correlationId"] == event["data"]["correlationId"]]

    assert await listed_states() == ["connected"]
    stack.emulator.hang_up(call["id"])
    await stack.emulator.idle()
    assert await listed_states() == ["disconnected"]
    status, page = await stack.get("/api/calls?limit=500&state=connected")
    assert call["id"] not in [c["id"] for c in page["calls"]]
