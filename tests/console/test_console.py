"""The console in a browser: the list, the diagrams of real calls, links, filters, keyboard, live updates, phone width."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from devtools.stack import PROJECT_ROOT
from tests.console.conftest import (
    AGENT_ANSWERS, AGENT_DECLINES, ARTIFACTS, GROUP_CALL_ID, GROUP_CALL_MEMBER, GROUP_INVITEE, GROUP_USERS,
    OUTBOUND_TARGET, OVERFLOW_TARGET, REFUSED_TRANSFER_TARGET, SUPPORT, TRANSFER_TARGET, Console,
)

pytestmark = pytest.mark.e2e

RED = "rgb(179, 38, 30)"
DIAGRAM_JS = """() => ({
  title: document.getElementById('detail-title').textContent,
  lifelines: [...document.querySelectorAll('#diagram g.lifeline')].map(g => ({
    key: g.dataset.key, label: g.dataset.label, role: g.dataset.role})),
  steps: [...document.querySelectorAll('#diagram g.step')].map(g => ({
    from: g.dataset.from, to: g.dataset.to, kind: g.dataset.kind, label: g.dataset.label,
    context: g.dataset.context, result: g.dataset.result, failed: g.dataset.failed === 'true',
    stroke: getComputedStyle(g.querySelector('line.arrow')).stroke,
    text: [...g.querySelectorAll('text')].map(t => t.textContent).join(' | ')})),
  steps_text: [...document.querySelectorAll('#steps li')].map(li => li.textContent),
})"""


def masked(value: str) -> str:
    """As the app's logs mask: all but the last four characters hidden."""
    return ("+" if value.startswith("+") else "") + "***" + value[-4:]


def key_of(call: dict[str, Any]) -> str:
    return call["callConnectionId"] or call["correlationId"]


def open_call(page: Any, console: Console, call: dict[str, Any], **params: str) -> dict[str, Any]:
    """Open the call's own link, as from a ticket, and read the diagram it draws."""
    query = "&".join(f"{k}={v}" for k, v in {**params, "call": key_of(call)}.items())
    page.goto(f"{console.url}?{query}")
    page.wait_for_selector("#diagram g.step", state="attached")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    return page.evaluate(DIAGRAM_JS)


def arrows(diagram: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each arrow as (from lifeline, to lifeline, label), lifelines by their (masked) labels."""
    names = {line["key"]: line["label"] for line in diagram["lifelines"]}
    return [(names[s["from"]], names[s["to"]], s["label"]) for s in diagram["steps"]]


def in_order(seen: list[Any], wanted: list[Any]) -> bool:
    """Whether `wanted` appears in `seen` in this order (other arrows may come between)."""
    it = iter(seen)
    return all(any(item == w for item in it) for w in wanted)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_list_shows_every_call_newest_first_with_masked_numbers(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]", state="attached")
    rows = page.eval_on_selector_all("#call-list a[data-call]", "rows => rows.map(r => r.dataset.call)")
    listing = console.api("GET", "calls?limit=100")["calls"]
    assert rows == [key_of(c) for c in listing]
    assert len(rows) >= len(console.calls)
    text = page.inner_text("#call-list")
    for call in console.calls.values():
        for number in (call["from"], call["to"]):
            for party in (number or "").split(", ") if number else []:  # a group call's targets: "id1, id2"
                assert party not in text
                assert masked(party) in text
    row = page.inner_text(f"#call-list a[data-call='{key_of(console.calls['reject'])}']")
    assert "rejected" in row and "inbound" in row and "reject forbidden" in row and "rule block-premium" in row
    assert re.search(r"\d\d:\d\d:\d\d", row) and re.search(r"\d+(\.\d)? (ms|s)", row)
    assert page.errors == []
    shot(page, "list")


def test_an_answered_call_shows_the_answer_and_the_events_that_followed(console: Console, page: Any) -> None:
    call = console.calls["answer"]
    diagram = open_call(page, console, call)
    assert [(line["label"], line["role"]) for line in diagram["lifelines"]] == [
        ("callsteer", "the app"), ("ACS", "Call Automation"), (masked(call["from"]), "caller")]
    caller = masked(call["from"])
    assert arrows(diagram) == [
        (caller, "ACS", f"calls {masked(SUPPORT)}"),
        ("ACS", "callsteer", "IncomingCall"),
        ("callsteer", "ACS", "answer"),
        ("ACS", "callsteer", "CallConnected"),
        ("ACS", "callsteer", "ParticipantsUpdated"),
        ("ACS", "callsteer", "CallDisconnected"),
    ]
    connected = diagram["steps"][3]
    assert connected["context"] == "answer:support" and connected["result"] == "200/0"
    assert not any(s["failed"] for s in diagram["steps"])
    assert diagram["title"] == f"Call {call['callConnectionId']}"
    assert page.errors == []
    shot(page, "answer")


def test_a_rejected_call_opens_by_its_correlation_id(console: Console, page: Any) -> None:
    call = console.calls["reject"]
    assert call["callConnectionId"] is None
    diagram = open_call(page, console, call)
    caller = masked(call["from"])
    assert arrows(diagram) == [
        (caller, "ACS", f"calls {masked(SUPPORT)}"),
        ("ACS", "callsteer", "IncomingCall"),
        ("callsteer", "ACS", "reject"),
        ("ACS", caller, "rejected (forbidden)"),
    ]
    assert "reason forbidden" in diagram["steps"][2]["text"]
    assert any("rule block-premium" in line for line in diagram["steps_text"])
    assert page.get_attribute("#share-link", "href").endswith(f"?call={call['correlationId']}")
    shot(page, "reject")


def test_a_redirected_call_rings_its_target(console: Console, page: Any) -> None:
    call = console.calls["redirect"]
    diagram = open_call(page, console, call)
    target = masked(OVERFLOW_TARGET)
    assert [(line["label"], line["role"]) for line in diagram["lifelines"]][2:] == [
        (masked(call["from"]), "caller"), (target, "redirect target")]
    assert arrows(diagram)[2:] == [("callsteer", "ACS", "redirect"), ("ACS", target, "rings (redirected)")]
    assert f"to {target}" in diagram["steps"][2]["text"]
    shot(page, "redirect")


def test_a_ring_group_shows_the_declined_invitation_as_a_failure(console: Console, page: Any) -> None:
    call = console.calls["ring-group"]
    diagram = open_call(page, console, call)
    declines, answers = masked(AGENT_DECLINES), masked(AGENT_ANSWERS)
    assert [(line["label"], line["role"]) for line in diagram["lifelines"]] == [
        ("callsteer", "the app"), ("ACS", "Call Automation"), (masked(call["from"]), "caller"),
        (declines, "invitee"), (answers, "invitee")]
    assert in_order(arrows(diagram), [
        ("ACS", "callsteer", "IncomingCall"),
        ("callsteer", "ACS", "answer"),
        ("ACS", "callsteer", "CallConnected"),
        ("callsteer", "ACS", "addParticipant"),
        ("ACS", declines, "invites"),
        ("ACS", "callsteer", "AddParticipantFailed"),
        ("callsteer", "ACS", "addParticipant"),
        ("ACS", answers, "invites"),
        ("ACS", "callsteer", "AddParticipantSucceeded"),
    ])
    [failed_event] = [s for s in diagram["steps"] if s["label"] == "AddParticipantFailed"]
    assert failed_event["failed"] and failed_event["result"] == "603/0" and failed_event["stroke"] == RED
    failed_invite = next(s for s in diagram["steps"] if s["label"] == "addParticipant")
    assert failed_invite["failed"] and failed_invite["stroke"] == RED
    succeeded = [s for s in diagram["steps"] if s["label"] == "AddParticipantSucceeded"]
    assert succeeded and not succeeded[0]["failed"] and succeeded[0]["stroke"] != RED
    assert [s["label"] for s in diagram["steps"] if s["failed"]] == ["addParticipant", "AddParticipantFailed"]
    assert page.locator("#diagram rect.fail-band").count() == 2
    shot(page, "ring-group")
    if os.environ.get("CALLSTEER_README_SHOT"):  # the README's picture: CALLSTEER_README_SHOT=1 ./dev test -k ring_group
        page.set_viewport_size({"width": 1180, "height": 760})
        page.wait_for_timeout(300)
        page.screenshot(path=str(PROJECT_ROOT / "docs" / "console.png"), full_page=True)


def test_a_transfer_shows_the_operation_its_target_and_the_acceptance(console: Console, page: Any) -> None:
    call = console.calls["transfer"]
    diagram = open_call(page, console, call)
    target = masked(TRANSFER_TARGET)
    assert (target, "transfer target") in [(line["label"], line["role"]) for line in diagram["lifelines"]]
    assert in_order(arrows(diagram), [
        ("callsteer", "ACS", "answer"),
        ("ACS", "callsteer", "CallConnected"),
        ("callsteer", "ACS", "transfer"),
        ("ACS", target, "transfers the call to"),
        ("ACS", "callsteer", "CallTransferAccepted"),
        ("ACS", "callsteer", "CallDisconnected"),
    ])
    transfer = next(s for s in diagram["steps"] if s["label"] == "transfer")
    assert transfer["context"] == "handoff-to-billing"
    accepted = next(s for s in diagram["steps"] if s["label"] == "CallTransferAccepted")
    assert accepted["context"] == "handoff-to-billing" and not accepted["failed"]
    shot(page, "transfer")


def test_an_outbound_call_starts_with_the_app_creating_it(console: Console, page: Any) -> None:
    call = console.calls["outbound"]
    diagram = open_call(page, console, call)
    callee = masked(OUTBOUND_TARGET)
    assert arrows(diagram)[:3] == [("callsteer", "ACS", "createCall"), ("ACS", callee, "rings"),
                                   ("ACS", "callsteer", "CallConnected")]
    assert diagram["steps"][0]["context"] == "callback-customer"


def test_a_group_call_has_one_lifeline_per_participant_and_no_arrow_for_a_refused_transfer(console: Console,
                                                                                          page: Any) -> None:
    call = console.calls["group"]
    diagram = open_call(page, console, call)
    first, second, invitee = masked(GROUP_USERS[0]), masked(GROUP_USERS[1]), masked(GROUP_INVITEE)
    # Both users of the group call as callees, the phone invited as invitee: each once, keyed by raw id. Not the
    # invitation id the cancel names, not hang-up's "everyone", not the target of the transfer ACS refused.
    assert [(line["label"], line["role"]) for line in diagram["lifelines"]] == [
        ("callsteer", "the app"), ("ACS", "Call Automation"), (first, "callee"), (second, "callee"),
        (invitee, "invitee")]
    assert in_order(arrows(diagram), [
        ("callsteer", "ACS", "createCall"),
        ("ACS", first, "rings"),
        ("ACS", second, "rings"),
        ("ACS", "callsteer", "CallConnected"),
        ("callsteer", "ACS", "addParticipant"),
        ("ACS", invitee, "invites"),
        ("callsteer", "ACS", "cancelAddParticipant"),
        ("ACS", invitee, "cancels the invitation"),
        ("ACS", "callsteer", "CancelAddParticipantSucceeded"),
        ("callsteer", "ACS", "transfer"),
        ("callsteer", "ACS", "removeParticipant"),
        ("ACS", first, "removes"),
        ("ACS", "callsteer", "RemoveParticipantSucceeded"),
        ("callsteer", "ACS", "hangUp"),
        ("ACS", "callsteer", "CallDisconnected"),
    ])
    steps = diagram["steps"]
    transfer = next(i for i, s in enumerate(steps) if s["label"] == "transfer")
    assert steps[transfer]["failed"] and steps[transfer]["stroke"] == RED
    assert f"to {masked(REFUSED_TRANSFER_TARGET)}" in steps[transfer]["text"]
    assert steps[transfer + 1]["kind"] != "effect"  # refused: it reached nobody
    assert "transfers the call to" not in [s["label"] for s in steps]
    hang_up = next(s for s in steps if s["label"] == "hangUp")
    assert "for everyone" in hang_up["text"]
    row = page.inner_text(f"#call-list a[data-call='{key_of(call)}']")
    assert f"{first}, {second}" in row
    assert f"{first}, {second}" in page.inner_text("#summary")
    assert page.errors == []
    shot(page, "group")


def test_a_connect_call_shows_the_call_it_joined_and_its_participants(console: Console, page: Any) -> None:
    call = console.calls["connect"]
    assert call["from"] is None and call["to"] is None
    diagram = open_call(page, console, call)
    member = masked(GROUP_CALL_MEMBER)
    assert [(line["label"], line["role"]) for line in diagram["lifelines"]] == [
        ("callsteer", "the app"), ("ACS", "Call Automation"), (member, "ACS user")]
    assert arrows(diagram)[:3] == [("callsteer", "ACS", "connect"), ("ACS", "callsteer", "CallConnected"),
                                   ("ACS", "callsteer", "ParticipantsUpdated")]
    connect = diagram["steps"][0]
    assert connect["context"] == "join-huddle" and f"to group call {masked(GROUP_CALL_ID)}" in connect["text"]
    row = page.inner_text(f"#call-list a[data-call='{key_of(call)}']")
    assert f"connects to group call {masked(GROUP_CALL_ID)}" in row and "- \u2192 -" not in row
    assert page.errors == []
    shot(page, "connect")


def test_filters_by_state_and_by_direction(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]", state="attached")
    page.select_option("#filter-state", "rejected")
    page.wait_for_function("() => [...document.querySelectorAll('#call-list a[data-call]')].length > 0 && "
                           "[...document.querySelectorAll('#call-list a[data-call]')]"
                           ".every(a => a.classList.contains('state-rejected'))")
    assert key_of(console.calls["reject"]) in page.eval_on_selector_all(
        "#call-list a[data-call]", "rows => rows.map(r => r.dataset.call)")
    assert parse_qs(urlparse(page.url).query)["state"] == ["rejected"]
    page.select_option("#filter-state", "")
    page.select_option("#filter-direction", "outbound")
    page.wait_for_function("() => { const rows = [...document.querySelectorAll('#call-list a[data-call]')];"
                           " return rows.length > 0 && rows.every(a => a.textContent.includes('outbound')); }")
    outbound = [key_of(c) for c in console.api("GET", "calls?direction=outbound&limit=100")["calls"]]
    assert {key_of(console.calls[name]) for name in ("outbound", "group", "connect")} <= set(outbound)
    assert page.eval_on_selector_all("#call-list a[data-call]", "rows => rows.map(r => r.dataset.call)") == outbound
    shot(page, "filter-outbound")


def test_the_keyboard_reaches_and_opens_a_call(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]", state="attached")
    rows = page.eval_on_selector_all("#call-list a[data-call]", "rows => rows.map(r => r.dataset.call)")
    for _ in range(10):  # skip link, filters, then the first call
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.dataset.call || ''") == rows[0]:
            break
    assert page.evaluate("() => document.activeElement.dataset.call") == rows[0]
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.call") == rows[1]
    page.keyboard.press("Enter")
    page.wait_for_selector("#diagram g.step", state="attached")
    assert parse_qs(urlparse(page.url).query)["call"] == [rows[1]]
    assert page.get_attribute(f"#call-list a[data-call='{rows[1]}']", "aria-current") == "true"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('call') === {rows[0]!r}")
    page.go_back()
    page.wait_for_function(f"() => document.getElementById('detail-title').textContent.includes({rows[1]!r})")


def test_a_call_in_progress_updates_without_a_reload(console: Console, page: Any) -> None:
    call = console.place("+14255550199", SUPPORT)
    assert call["state"] == "connected"
    diagram = open_call(page, console, call)
    assert "CallDisconnected" not in [s["label"] for s in diagram["steps"]]
    assert "in progress" in page.inner_text("#summary")
    page.evaluate("() => { window.__sameDocument = true; }")
    console.emulator("POST", f"calls/{call['callConnectionId']}/hang-up", {})
    page.wait_for_function("() => [...document.querySelectorAll('#diagram g.step')]"
                           ".some(g => g.dataset.label === 'CallDisconnected')", timeout=10_000)
    assert page.evaluate("() => window.__sameDocument") is True
    assert "disconnected" in page.inner_text("#summary")


def test_the_function_key_goes_with_every_api_request_and_not_into_the_shared_link(console: Console,
                                                                                   page: Any) -> None:
    call = console.calls["answer"]
    open_call(page, console, call, code="local-key-123")
    api = [r for r in page.requested if "/api/calls" in r.url]
    assert api and all(r.headers.get("x-functions-key") == "local-key-123" for r in api)
    assert all("code=" not in r.url for r in api)
    share = page.get_attribute("#share-link", "href")
    assert "code" not in share and share.endswith(f"?call={call['callConnectionId']}")
    row = page.get_attribute(f"#call-list a[data-call='{call['callConnectionId']}']", "href")
    assert "code=local-key-123" in row  # the address bar keeps the key for the operator's own navigation


def test_the_page_loads_nothing_from_elsewhere_and_breaks_no_policy(console: Console, page: Any) -> None:
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    open_call(page, console, console.calls["ring-group"])
    origin = console.stack.host_url
    assert page.requested and all(r.url.startswith(origin) for r in page.requested), [r.url for r in page.requested]
    assert violations == [] and page.errors == []


def test_readable_at_phone_width(console: Console, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_call(page, console, console.calls["ring-group"])
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.is_visible("#call-list") and page.is_visible("#diagram svg")
    font = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.call-row')).fontSize)")
    assert font >= 12
    # The diagram scrolls sideways inside its own box, and the keyboard can scroll it.
    assert page.evaluate("() => document.getElementById('diagram').tabIndex") == 0
    shot(page, "phone-ring-group")


def test_the_diagram_works_without_operations(console: Console, page: Any) -> None:
    """Calls recorded before operations existed: the decision stands for the action, events follow it."""
    page.goto(console.url)
    page.wait_for_function("() => window.CallsteerDiagram")
    legacy = {key: value for key, value in console.calls["answer"].items() if key != "operations"}
    model = page.evaluate("call => CallsteerDiagram.build(call)", legacy)
    steps = [(s["from"], s["to"], s["label"]) for s in model["steps"]]
    assert steps[:4] == [("p1", "acs", f"calls {masked(SUPPORT)}"), ("acs", "app", "IncomingCall"),
                         ("app", "acs", "answer"), ("acs", "app", "CallConnected")]
    assert model["steps"][2]["context"] == "answer:support"
    failed = {**legacy, "decision": {"action": "redirect", "rule": "overflow", "target": OVERFLOW_TARGET},
              "events": [], "error": {"action": "redirect", "status": 400, "code": "BadRequest", "message": "no"}}
    model = page.evaluate("call => CallsteerDiagram.build(call)", failed)
    assert [(s["label"], s["failed"], s.get("result")) for s in model["steps"]][2:] == [("redirect", True, "400 BadRequest")]


def test_a_link_to_an_unknown_call_says_so(console: Console, page: Any) -> None:
    page.goto(f"{console.url}?call=no-such-call")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    assert page.inner_text("#detail-title") == "No call no-such-call"
    assert page.locator("#diagram g.step").count() == 0 and page.errors == []
