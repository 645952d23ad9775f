"""The console's list a page at a time, in a browser: "Older calls" follows the listing's `next` down to the last
page, a call that arrives meanwhile shows at the top without losing the pages below, and a filter starts again
from the first page. The pages are small (?limit=4, as an operator can set it) and checked against the API's."""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from devtools.stack import LocalStack
from tests.console.conftest import OUTBOUND_TARGET, SUPPORT, Console
from tests.console.test_console import key_of, shot

pytestmark = pytest.mark.e2e

PAGE = 4
ELSEWHERE = "+18005550999"  # no rule takes it: rejected (busy)
RULES = {"rules": [{"name": "support", "match": {"to": [SUPPORT]}, "action": "answer"}],
         "default": {"action": "reject", "reason": "busy"}}
SHOWN_JS = "() => [...document.querySelectorAll('#call-list a[data-call]')].map(a => a.dataset.call)"
MORE_JS = "() => !document.getElementById('more').hidden"


@pytest.fixture(scope="module")
def paging_console() -> Iterator[Console]:
    """Thirteen calls, more than three pages of four: nine rejected, two answered, two outbound (the four connected
    calls fill one page exactly)."""
    with LocalStack(emulator_args=("--time-scale", "0.05"),
                    extra_settings={"ROUTING_RULES": json.dumps(RULES)}) as stack:
        c = Console(stack)
        for n in range(11):
            c.place(f"+1425555{n:04d}", SUPPORT if n in (1, 6) else ELSEWHERE)
        for _ in range(2):
            created = c.api("POST", "calls", {"targets": [OUTBOUND_TARGET], "callerId": SUPPORT})
            c.settle(lambda: c.get(created["callConnectionId"]))
        yield c


def api_pages(console: Console, **filters: str) -> list[dict[str, Any]]:
    """The listing's pages of PAGE calls as the API gives them, following `next` to the end."""
    query = "&".join(f"{k}={v}" for k, v in {"limit": str(PAGE), **filters}.items())
    pages = [console.api("GET", f"calls?{query}")]
    while pages[-1]["next"]:
        pages.append(console.api("GET", f"calls?{query}&cursor={pages[-1]['next']}"))
    return pages


def keys(pages: list[dict[str, Any]]) -> list[str]:
    return [key_of(call) for p in pages for call in p["calls"]]


def wait_for_list(page: Any, wanted: list[str], why: str) -> None:
    """Wait until the list shows exactly `wanted`, in order; fail saying what it shows instead."""
    try:
        page.wait_for_function(f"(want) => JSON.stringify(({SHOWN_JS})()) === JSON.stringify(want)", arg=wanted,
                               timeout=15_000)
    except Exception as exc:  # Playwright's TimeoutError says only that it timed out
        raise AssertionError(f"{why}: the list shows {page.evaluate(SHOWN_JS)}, wanted {wanted}") from exc


def wait_for_more(page: Any, shown: bool, why: str) -> None:
    try:
        page.wait_for_function(f"(want) => ({MORE_JS})() === want", arg=shown, timeout=15_000)
    except Exception as exc:
        raise AssertionError(f"{why}: 'Older calls' is {'hidden' if shown else 'still shown'}") from exc


def wait_for_reads(page: Any, count: int, why: str) -> None:
    """Wait until the page has read its data route `count` more times (each read starts after the one before ends)."""
    reads = "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/api/console/data')).length"
    try:
        page.wait_for_function(f"(n) => ({reads})() >= n", arg=page.evaluate(reads) + count, timeout=15_000)
    except Exception as exc:
        raise AssertionError(f"{why}: the page stopped reading its data") from exc


def list_requests(page: Any) -> list[dict[str, list[str]]]:
    """The query of each listing request the page made (not the reads of one call)."""
    queries = [parse_qs(urlparse(r.url).query) for r in page.requested if "/api/console/data" in r.url]
    return [q for q in queries if "call" not in q]


def open_list(page: Any, console: Console, **params: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in {"limit": str(PAGE), **params}.items())
    page.goto(f"{console.url}?{query}")
    page.wait_for_selector("body[data-ready=true]", state="attached")


def test_older_calls_appends_each_next_page_in_order_until_the_last(paging_console: Console, page: Any) -> None:
    pages = api_pages(paging_console)
    assert len(pages) >= 4 and len(set(keys(pages))) == len(keys(pages))
    open_list(page, paging_console)
    wait_for_list(page, keys(pages[:1]), "the first page")
    wait_for_more(page, True, "more calls than a page holds")
    for n in range(1, len(pages)):
        page.click("#more")
        wait_for_list(page, keys(pages[:n + 1]), f"after 'Older calls' {n} time(s)")
        wait_for_more(page, pages[n]["next"] is not None, f"after page {n + 1} of {len(pages)}")
    assert page.evaluate(SHOWN_JS) == keys(pages) == keys([paging_console.api("GET", "calls?limit=500")])
    # Each older page was asked for with the cursor the page before it gave, and a page held what ?limit= says.
    asked = [q["cursor"][0] for q in list_requests(page) if "cursor" in q]
    assert asked == [p["next"] for p in pages[:-1]]
    assert all(q["limit"] == [str(PAGE)] for q in list_requests(page) if "cursor" in q)
    assert page.is_hidden("#more") and page.errors == []
    shot(page, "paging-last-page")


def test_a_new_call_shows_at_the_top_and_the_older_pages_stay(paging_console: Console, page: Any) -> None:
    open_list(page, paging_console)
    first = keys(api_pages(paging_console)[:2])
    wait_for_list(page, first[:PAGE], "the first page")
    page.click("#more")
    wait_for_list(page, first, "the first two pages")

    placed = paging_console.place("+14255550999", ELSEWHERE)
    listing = keys([paging_console.api("GET", "calls?limit=500")])
    assert listing[0] == key_of(placed) and listing[1:len(first) + 1] == first
    # The new call pushes the first page's last call down, past the page's end: it must stay shown.
    wait_for_list(page, [key_of(placed), *first], "a call arrived with two pages shown")
    page.click("#more")
    wait_for_list(page, listing[:len(first) + 1 + PAGE], "'Older calls' after the new call")
    assert page.errors == []


def test_a_filter_starts_paging_again_from_the_first_page(paging_console: Console, page: Any) -> None:
    open_list(page, paging_console)
    wait_for_list(page, keys(api_pages(paging_console)[:1]), "the first page")
    page.click("#more")
    wait_for_list(page, keys(api_pages(paging_console)[:2]), "the first two pages")

    rejected = api_pages(paging_console, state="rejected")
    assert len(rejected) >= 2
    before = len(list_requests(page))
    page.select_option("#filter-state", "rejected")
    wait_for_list(page, keys(rejected[:1]), "the first page of rejected calls")
    wait_for_more(page, True, "more rejected calls than a page holds")
    assert "cursor" not in list_requests(page)[before]
    assert parse_qs(urlparse(page.url).query) == {"state": ["rejected"], "limit": [str(PAGE)]}
    page.click("#more")
    wait_for_list(page, keys(rejected[:2]), "the second page of rejected calls")

    outbound = api_pages(paging_console, direction="outbound")
    assert len(outbound) == 1 and len(outbound[0]["calls"]) == 2
    page.select_option("#filter-state", "")
    page.select_option("#filter-direction", "outbound")
    wait_for_list(page, keys(outbound), "the outbound calls, one page")
    wait_for_more(page, False, "every outbound call on one page")
    assert page.errors == []


def test_older_calls_hides_when_the_page_after_a_full_one_is_empty(paging_console: Console, page: Any) -> None:
    connected = api_pages(paging_console, state="connected")
    # A full page always has a `next`: the listing learns that nothing follows only by reading the next page.
    assert [len(p["calls"]) for p in connected] == [PAGE, 0] and connected[0]["next"]
    open_list(page, paging_console, state="connected")
    wait_for_list(page, keys(connected), "the connected calls")
    wait_for_more(page, True, "a full page, with a `next`")
    page.click("#more")
    wait_for_more(page, False, "the next page was empty")
    assert page.evaluate(SHOWN_JS) == keys(connected)
    wait_for_reads(page, 2, "two polls after the empty page")
    assert page.is_hidden("#more") and page.evaluate(SHOWN_JS) == keys(connected)
    assert page.errors == []


@pytest.mark.parametrize("given, asked", [("0", "100"), ("abc", "100"), ("-4", "100"), ("900", "500"), ("500", "500")])
def test_a_page_size_that_is_not_a_count_is_a_hundred_and_past_five_hundred_is_five_hundred(
        paging_console: Console, page: Any, given: str, asked: str) -> None:
    open_list(page, paging_console, limit=given)
    assert [q["limit"] for q in list_requests(page)] == [[asked]]
    assert page.evaluate(SHOWN_JS) == keys([paging_console.api("GET", "calls?limit=500")]) and page.errors == []
