"""The console tested as a person uses it: the app, the ACS emulator and Azurite as processes, real calls, and
headless Chromium (Debian's package, driven by Playwright's library) opening the page the app serves.

The module's stack places one call per scenario (answer, reject, redirect, a ring group with a declined invitation,
a transfer through the control API, an outbound call, a group call with an invitation cancelled, a participant
removed, a refused transfer and a hang-up, a connect to a group call), waits until each has settled, and hands the
tests the calls as the state API shows them. Screenshots go to artifacts/console/.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from devtools.stack import PROJECT_ROOT, LocalStack, http_json

ARTIFACTS = PROJECT_ROOT / "artifacts" / "console"
CHROMIUM = os.environ.get("CALLSTEER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SUPPORT = "+18005550100"
OVERFLOW_TARGET = "+18005550199"
RING_LINE = "+18005550120"
AGENT_DECLINES = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003a1"
AGENT_ANSWERS = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003b2"
TRANSFER_TARGET = "+18005550142"
OUTBOUND_TARGET = "+14255550171"
GROUP_USERS = ("8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003c1",
               "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003c2")
GROUP_INVITEE = "+14255550173"  # scripted to ring unanswered, so that its invitation can be cancelled
REFUSED_TRANSFER_TARGET = "+18005550144"
GROUP_CALL_ID = "9b2f4c1e-7d3a-4e5b-8c6d-0e1f2a3b4c5d"
GROUP_CALL_MEMBER = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003d1"
RULES = {
    "rules": [
        {"name": "block-premium", "match": {"from": ["+1900*"]}, "action": "reject", "reason": "forbidden"},
        {"name": "overflow", "match": {"to": ["+18005550177"]}, "action": "redirect", "target": OVERFLOW_TARGET},
        {"name": "ring-agents", "match": {"to": [RING_LINE]}, "action": "answer", "then": {
            "ring": [AGENT_DECLINES, AGENT_ANSWERS], "strategy": "sequential", "timeoutSeconds": 20,
            "fallback": {"hangup": True}}},
        {"name": "support", "match": {"to": [SUPPORT]}, "action": "answer"},
    ],
    "default": {"action": "reject", "reason": "busy"},
}


@dataclass
class Console:
    """The running stack, with the few HTTP calls the tests need (urllib: no event loop in browser tests)."""

    stack: LocalStack
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.stack.host_url}/api/console"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = http_json(method, f"{self.stack.host_url}/api/{path}", body)
        assert 200 <= status < 300, f"{method} /api/{path}: {status} {payload}"
        return payload

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = http_json(method, f"{self.stack.emulator_url}/emulator/{path}", body)
        assert 200 <= status < 300, f"{method} /emulator/{path}: {status} {payload}"
        return payload

    def idle(self) -> None:
        self.emulator("POST", "idle?timeout=10")

    def place(self, from_: str, to: str) -> dict[str, Any]:
        """An incoming call through the emulator (delivered as Event Grid does); the call once it has settled."""
        event = self.emulator("POST", "incoming-calls", {"from": from_, "to": to})
        return self.settle(lambda: self.find(event["data"]["correlationId"]))

    def find(self, correlation_id: str) -> dict[str, Any] | None:
        listing = self.api("GET", "calls?limit=500")["calls"]
        match = next((c for c in listing if c["correlationId"] == correlation_id), None)
        return self.api("GET", f"calls/{match['id']}") if match else None

    def get(self, call_id: str) -> dict[str, Any]:
        return self.api("GET", f"calls/{call_id}")

    def settle(self, read, done=lambda call: True, timeout: float = 20) -> dict[str, Any]:
        """Wait for the emulator to be idle and `done(call)`; follow-ups chain, so look a few times."""
        deadline = time.monotonic() + timeout
        while True:
            self.idle()
            call = read()
            if call is not None and done(call):
                return call
            assert time.monotonic() < deadline, f"call did not settle: {call}"
            time.sleep(0.1)


def _ring_done(call: dict[str, Any]) -> bool:
    plan = call.get("planState") or {}
    return call["state"] != "connected" or plan.get("phase") in (None, "done")


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    """The stack with one settled call per scenario, by name."""
    with LocalStack(emulator_args=("--time-scale", "0.05"),
                    extra_settings={"ROUTING_RULES": json.dumps(RULES)}) as stack:
        c = Console(stack)
        c.calls["answer"] = c.place("+14255550123", SUPPORT)
        c.emulator("POST", f"calls/{c.calls['answer']['callConnectionId']}/hang-up", {})
        c.calls["answer"] = c.settle(lambda: c.get(c.calls["answer"]["id"]),
                                     lambda call: call["state"] == "disconnected")
        c.calls["reject"] = c.place("+19005550142", SUPPORT)
        c.calls["redirect"] = c.place("+14255550188", "+18005550177")

        c.emulator("PUT", f"targets/{AGENT_DECLINES}", {"outcome": "decline"})
        c.emulator("PUT", f"targets/{AGENT_ANSWERS}", {"outcome": "answer"})
        ringing = c.place("+14255550181", RING_LINE)
        c.calls["ring-group"] = c.settle(lambda: c.get(ringing["id"]), _ring_done)

        answered = c.place("+14255550186", SUPPORT)
        c.api("POST", f"calls/{answered['id']}/transfer",
              {"target": TRANSFER_TARGET, "operationContext": "handoff-to-billing"})
        c.calls["transfer"] = c.settle(lambda: c.get(answered["id"]), lambda call: call["state"] == "transferred")

        created = c.api("POST", "calls", {"targets": [OUTBOUND_TARGET], "callerId": SUPPORT,
                                          "operationContext": "callback-customer"})
        c.calls["outbound"] = c.settle(lambda: c.get(created["callConnectionId"]))

        group = c.api("POST", "calls", {"targets": list(GROUP_USERS), "operationContext": "huddle"})["callConnectionId"]
        c.settle(lambda: c.get(group), lambda call: call["state"] == "connected" and len(call["participants"]) == 2)
        c.emulator("PUT", f"targets/{GROUP_INVITEE}", {"outcome": "no-answer"})
        invited = c.api("POST", f"calls/{group}/participants", {"target": GROUP_INVITEE, "callerId": SUPPORT})
        c.api("DELETE", f"calls/{group}/invitations/{invited['invitationId']}")
        c.settle(lambda: c.get(group), lambda call: all(op["status"] != "pending" for op in call["operations"]))
        # A group call needs a transferee: ACS refuses this one, and the app records the refusal.
        status, refused = http_json("POST", f"{stack.host_url}/api/calls/{group}/transfer",
                                    {"target": REFUSED_TRANSFER_TARGET})
        assert status == 400, (status, refused)
        c.api("DELETE", f"calls/{group}/participants/{quote(GROUP_USERS[0], safe='')}")
        c.settle(lambda: c.get(group), lambda call: call["participants"] == [GROUP_USERS[1]])
        c.api("POST", f"calls/{group}/hangup", {"forEveryone": True})
        c.calls["group"] = c.settle(lambda: c.get(group), lambda call: call["state"] == "disconnected")

        # Connect joins a group call that others started: the emulator plays its clients.
        c.emulator("PUT", f"locators/{GROUP_CALL_ID}", {"participants": [GROUP_CALL_MEMBER]})
        joined = c.api("POST", "calls:connect", {"groupCallId": GROUP_CALL_ID, "operationContext": "join-huddle"})
        c.calls["connect"] = c.settle(lambda: c.get(joined["callConnectionId"]),
                                      lambda call: call["state"] == "connected" and call["participants"])
        yield c


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    """Headless Debian Chromium with its own temporary profile. Missing Chromium fails loudly, never skips.

    Module-scoped on purpose: Playwright's sync API runs its own event loop while it is open, which must be
    closed before pytest-asyncio's session loop runs the async end-to-end tests.
    """
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: the console tests drive Debian's chromium package. "
                    "Run ./dev test (devtools/console_setup.sh installs chromium and chromium-driver with apt), "
                    "or point CALLSTEER_CHROMIUM at a Chromium binary.", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - only without requirements-dev.txt
        pytest.fail(f"Playwright's library is missing ({exc}): run ./dev setup", pytrace=False)
    profile = tempfile.mkdtemp(prefix="callsteer-console-chromium-")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("FAILED-*.png"):
        stale.unlink()
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1280, "height": 900}, service_workers="block")
            context.set_default_timeout(15_000)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab; page errors and requests are recorded, and a failing test leaves a screenshot."""
    tab = browser_context.new_page()
    tab.errors = []
    tab.requested = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.on("request", lambda req: tab.requested.append(req))
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        tab.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    tab.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
