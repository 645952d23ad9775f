"""The console's credential: opening the page needs none, its data comes from one read-only route behind its own
function key (which cannot place or end calls), and the key never ends up in a URL the page shows or pushes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import function_app
from devtools.host import discover
from devtools.stack import http_json
from shared.console import HERE
from tests.console.conftest import Console
from tests.console.test_console import key_of, open_call

pytestmark = pytest.mark.e2e
KEY = "console-key-7f3a"


def functions() -> dict[str, Any]:
    return {f.name: f for f in discover(function_app.app)[0]}


def test_the_page_is_anonymous_and_its_data_route_is_read_only_with_its_own_function_key() -> None:
    registered = functions()
    assert registered["console"].auth_level == "anonymous" and registered["console_assets"].auth_level == "anonymous"
    data = registered["console_data"]
    assert data.auth_level == "function" and data.methods == ("GET",) and data.route == "console/data"
    # What the page's script asks for: only the data route (each function has its own key in Azure).
    script = (HERE / "console.js").read_text(encoding="utf-8")
    assert script.count("fetch(") == 1 and 'fetch("console/data?"' in script
    assert not re.search(r"[\"/]calls[/?\"]", script)


def test_the_data_route_serves_the_listing_and_one_call(console: Console) -> None:
    call = console.calls["answer"]
    status, listing = http_json("GET", f"{console.stack.host_url}/api/console/data?limit=5")
    assert status == 200 and listing["calls"] and len(listing["calls"]) <= 5
    status, one = http_json("GET", f"{console.stack.host_url}/api/console/data?call={call['id']}")
    assert status == 200 and one["id"] == call["id"] and one["events"]
    for wanted in ("no-such-call", "..", "a%5Cb"):
        status, problem = http_json("GET", f"{console.stack.host_url}/api/console/data?call={wanted}")
        assert status == 404, problem


def test_a_key_in_the_address_bar_moves_to_session_storage_and_out_of_every_url(console: Console, page: Any) -> None:
    call = console.calls["answer"]
    open_call(page, console, call, code=KEY)
    assert "code" not in page.url and KEY not in page.url
    assert page.evaluate("() => sessionStorage.getItem('callsteer.console.key')") == KEY
    data = [r for r in page.requested if "/api/console/data" in r.url]
    assert data and all(r.headers.get("x-functions-key") == KEY for r in data)
    # Only the URL the operator typed holds it: no request the page itself makes does.
    assert all(KEY not in r.url for r in page.requested[1:]) and KEY in page.requested[0].url
    links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    assert links and not [href for href in links if KEY in href or "code=" in href]
    # Navigating pushes history entries: none of them carries the key.
    other = console.calls["reject"]
    page.click(f"#call-list a[data-call='{key_of(other)}']")
    page.wait_for_function(f"() => location.search.includes({json.dumps(key_of(other))})")
    assert KEY not in page.url
    page.go_back()
    page.wait_for_function(f"() => location.search.includes({json.dumps(key_of(call))})")
    assert KEY not in page.url


def test_without_its_key_the_page_asks_for_it_and_keeps_it_out_of_urls(console: Console, page: Any) -> None:
    # Azure's host checks function keys (the local host does not): stand in for that check on the data route.
    def host_key_check(route: Any) -> None:
        if route.request.headers.get("x-functions-key") == KEY:
            route.continue_()
        else:
            route.fulfill(status=401, body="")

    page.route("**/api/console/data**", host_key_check)
    page.goto(console.url)
    page.wait_for_selector("#key-form:not([hidden])")
    assert page.is_visible("#console-key") and page.locator("#call-list a").count() == 0
    page.fill("#console-key", "wrong-key")
    page.press("#console-key", "Enter")
    page.wait_for_function("() => document.getElementById('key-why').textContent.includes('refused')")
    page.fill("#console-key", KEY)
    page.press("#console-key", "Enter")
    page.wait_for_selector("#call-list a[data-call]")
    assert page.is_hidden("#key-form")
    assert all(KEY not in r.url for r in page.requested) and KEY not in page.url
    assert page.evaluate("() => sessionStorage.getItem('callsteer.console.key')") == KEY
