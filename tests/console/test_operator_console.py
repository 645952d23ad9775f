"""The console's operator pieces in a browser: the daily figures chart and the simulate page, against the real
stack (the calls placed by the console fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import ARTIFACTS, SUPPORT, Console

pytestmark = pytest.mark.e2e


def test_the_daily_figures_chart_shows_todays_calls_by_outcome(console: Console, page: Any) -> None:
    stats = console.api("GET", "stats?days=7")
    today = stats["daily"][-1]
    offered = sum(r["offered"] for r in today["rules"])
    assert offered >= 5  # the fixture's calls
    page.goto(console.url)
    page.wait_for_selector("#stats[data-ready=true]", state="attached")
    labels = page.eval_on_selector_all("#stats-chart text.offered", "ts => ts.map(t => t.textContent)")
    assert len(labels) == 7 and labels[-1] == str(offered)
    bars = page.eval_on_selector_all("#stats-chart rect[data-figure]", "rs => rs.map(r => r.dataset.figure)")
    assert {"answered", "rejected", "redirected"} <= set(bars)
    rows = page.eval_on_selector_all("#stats-rows tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))")
    by_rule = {r["rule"]: r for r in today["rules"]}
    shown = {row[1]: row for row in rows if row[0] == today["day"]}
    assert set(shown) == set(by_rule)
    for rule, row in shown.items():
        assert row[2:7] == [str(by_rule[rule][k]) for k in ("offered", "answered", "rejected", "redirected", "failed")]
    assert page.errors == []
    page.screenshot(path=str(ARTIFACTS / "operator-stats.png"), full_page=True)


def test_the_simulate_page_shows_the_winning_rule_and_the_rules_before_it(console: Console, page: Any) -> None:
    page.goto(console.url + "#simulate")
    page.fill("#sim-from", "+19005550142")
    page.fill("#sim-to", SUPPORT)
    page.fill("#sim-at", "2026-12-25T15:00:00Z")
    page.click("#simulate-form button[type=submit]")
    page.wait_for_selector("#simulate[data-ready=true] .sim-verdict", state="attached")
    assert page.inner_text(".sim-verdict") == "Rule block-premium: reject (forbidden) at 2026-12-25T15:00:00Z"
    assert page.eval_on_selector_all(".sim-trace li", "ls => ls.map(l => l.textContent)") == ["block-premium: matched"]

    page.fill("#sim-from", "+14255550123")
    page.fill("#sim-to", "+18005550999")
    page.fill("#sim-rules", '{"rules": [{"name": "try-me", "match": {"to": ["+18005550100"]}, "action": "answer"}],'
                            ' "default": {"action": "reject", "reason": "busy"}}')
    page.click("#simulate-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('.sim-verdict')?.textContent.startsWith('Rule default')")
    assert page.eval_on_selector_all(".sim-trace li", "ls => ls.map(l => l.textContent)") == ["try-me: failed to"]

    page.fill("#sim-to", "nobody")
    page.click("#simulate-form button[type=submit]")
    page.wait_for_selector(".sim-error", state="attached")
    assert page.inner_text(".sim-error").startswith("to: ")
    assert page.errors == []
    page.screenshot(path=str(ARTIFACTS / "operator-simulate.png"), full_page=True)
