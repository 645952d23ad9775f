"""The whole stack for end-to-end tests: Azurite, the ACS emulator, and function_app.py on the local host.

The app is configured only through settings (environment variables), as in production; tests invoke the
functions function_app.py registers, over HTTP through the local host or directly as the host would.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator

import aiohttp
import azure.functions as func
import pytest
import pytest_asyncio

import function_app
from devtools.azurite import Azurite
from devtools.emulator import Emulator
from devtools.host import LocalHost, _event_time, discover
from devtools.stack import restore_environ
from shared.bootstrap import close_services, reset_services
from shared.domain.callback_tokens import callback_token

def ring_agent(n: int) -> str:
    """The raw id of ring-group agent n (each ring test scripts its own agents)."""
    return f"8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000001{n:02d}"


AGENT = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000000a1"
TEAMS_AGENT = "8:orgid:3c1d5e7f-9a2b-4c6d-8e0f-1a2b3c4d5e6f"
E2E_RULES = {
    "rules": [
        {"name": "block-premium", "match": {"from": ["+1900*"]}, "action": "reject", "reason": "forbidden"},
        {"name": "busy-line", "match": {"to": ["+18005550102"]}, "action": "reject", "reason": "busy"},
        {"name": "closed-line", "match": {"to": ["+18005550103"]}, "action": "reject", "reason": "none"},
        {"name": "overflow", "match": {"to": ["+18005550177"]}, "action": "redirect", "target": "+18005550199"},
        {"name": "to-agent", "match": {"to": ["+18005550178"]}, "action": "redirect", "target": AGENT},
        {"name": "to-teams", "match": {"to": ["+18005550179"]}, "action": "redirect", "target": TEAMS_AGENT},
        {"name": "gold", "match": {"callerKind": ["communicationUser"], "headers": {"X-MS-Custom-Tier": "gold"}},
         "action": "answer"},
        {"name": "support", "match": {"to": ["+18005550100"]}, "action": "answer"},
        {"name": "ring-all", "match": {"to": ["+18005550120"]}, "action": "answer", "then": {
            "ring": [ring_agent(1), ring_agent(2), "+14255550111"], "strategy": "simultaneous", "timeoutSeconds": 20,
            "callerId": "+18005550120", "fallback": {"transfer": "+18005550199"}}},
        {"name": "ring-in-turn", "match": {"to": ["+18005550121"]}, "action": "answer", "then": {
            "ring": [ring_agent(3), ring_agent(4)], "strategy": "sequential", "timeoutSeconds": 10,
            "fallback": {"transfer": "+18005550199"}}},
        {"name": "ring-then-transfer", "match": {"to": ["+18005550122"]}, "action": "answer", "then": {
            "ring": [ring_agent(5), ring_agent(6)], "strategy": "simultaneous", "timeoutSeconds": 10,
            "fallback": {"transfer": "+18005550199"}}},
        {"name": "ring-then-hang-up", "match": {"to": ["+18005550123"]}, "action": "answer", "then": {
            "ring": [ring_agent(7)], "timeoutSeconds": 10, "fallback": {"hangup": True}}},
        {"name": "ring-long", "match": {"to": ["+18005550124"]}, "action": "answer", "then": {
            "ring": [ring_agent(8), ring_agent(9)], "timeoutSeconds": 180, "fallback": {"hangup": True}}},
        {"name": "straight-transfer", "match": {"to": ["+18005550125"]}, "action": "answer", "then": {
            "transfer": "+18005550199"}},
    ],
    "default": {"action": "reject", "reason": "busy"},
}


def registered(name: str):
    """The user function function_app.py registers under `name`, as the host looks it up."""
    http_functions, eventgrid_functions = discover(function_app.app)
    if name in eventgrid_functions:
        return eventgrid_functions[name].call
    return next(f.call for f in http_functions if f.name == name)


def eventgrid_event(raw: dict[str, Any]) -> func.EventGridEvent:
    """Build the func.EventGridEvent the host would hand the trigger for one wire event."""
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw.get("topic"), subject=raw.get("subject"),
                               event_type=raw["eventType"], event_time=_event_time(raw.get("eventTime")),
                               data_version=raw.get("dataVersion"))


@dataclass
class Stack:
    host: LocalHost
    emulator: Emulator
    url: str
    secret: str
    http: aiohttp.ClientSession
    settings: dict[str, str]

    def callback_url(self, call_key: str, token: str | None = None) -> str:
        token = token if token is not None else callback_token(self.secret.encode(), call_key)
        return f"{self.url}/api/callbacks/{call_key}/{token}"

    async def activate(self) -> None:
        """Put this stack's settings in force for the app: each folder that imports `stack` has its own, and a
        fixture of a wider scope than a test (set up before `own_stack_settings`) must call this before using it.
        Not called by the stack's own methods: a test may have changed a setting on purpose (settings_changed)."""
        if any(os.environ.get(name) != value for name, value in self.settings.items()):
            os.environ.update(self.settings)
            await close_services()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}") as response:
            return response.status, await response.json(content_type=None)

    def signed(self, **claims: Any) -> dict[str, str]:
        """Headers of a callback as ACS sends it: a bearer JWT from the emulator's signing key."""
        return {"Authorization": f"Bearer {self.emulator.mint_callback_token(**claims)}"}

    async def post(self, url: str, body: Any = None, data: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST JSON; callback URLs get a valid ACS JWT unless `headers` says otherwise."""
        payload = data if data is not None else json.dumps(body).encode()
        if headers is None and "/api/callbacks/" in url:
            headers = self.signed()
        async with self.http.post(url, data=payload, headers={"Content-Type": "application/json", **(headers or {})}
                                  ) as response:
            text = await response.text()
            try:
                return response.status, (json.loads(text) if text else None)
            except ValueError:
                return response.status, text

    async def ring(self, **kwargs: Any) -> dict[str, Any]:
        """Place an incoming call through the emulator and Event Grid's webhook; wait for its callbacks."""
        event = self.emulator.incoming_call(**kwargs)
        status = await self.emulator.deliver_incoming_call(event)
        assert status == 200, f"Event Grid delivery answered {status}"
        await self.emulator.idle()
        return event

    async def call_for(self, event: dict[str, Any]) -> dict[str, Any]:
        """The stored call for an IncomingCall event, found by its correlation id in the list, then read whole."""
        status, listing = await self.get("/api/calls?limit=500")
        assert status == 200
        matches = [c for c in listing["calls"] if c["correlationId"] == event["data"]["correlationId"]]
        assert len(matches) == 1, f"expected one call for the event, found {len(matches)}"
        status, call = await self.get(f"/api/calls/{matches[0]['id']}")
        assert status == 200
        return call


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as running:
        yield running


@pytest_asyncio.fixture(scope="session")
async def stack(azurite: Azurite) -> AsyncIterator[Stack]:
    host = LocalHost(function_app.app)
    url = await host.start()
    emulator = Emulator(app_url=url, time_scale=0.01)
    await emulator.start()
    secret = secrets.token_urlsafe(32)
    settings = {
        "ACS_ENDPOINT": emulator.url,
        "ACS_ACCESS_KEY": emulator.access_key,
        "ACS_RESOURCE_ID": emulator.resource_id,
        "ACS_CALLBACK_ISSUER": emulator.issuer,
        "ACS_CALLBACK_JWKS_URL": f"{emulator.url}/calling/keys",
        "CALLBACK_BASE_URL": url,
        "CALLBACK_SECRET": secret,
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "ROUTING_RULES": json.dumps(E2E_RULES),
        # As in local.settings.sample.json: voicemail steps (rules.example.json has one) need it.
        "RECORDINGS_CONTAINER_URL": "http://127.0.0.1:10000/devstoreaccount1/recordings",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    reset_services()
    async with aiohttp.ClientSession() as http:
        yield Stack(host, emulator, url, secret, http, settings)
    await close_services()
    await emulator.stop()
    await host.stop()
    restore_environ(saved)
    reset_services()


@pytest_asyncio.fixture
async def settings_changed(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    """Change settings for one test; the app re-reads them, and the stack's settings come back after."""

    def change(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_services()

    yield change
    monkeypatch.undo()
    await close_services()


@pytest_asyncio.fixture(autouse=True)
async def own_stack_settings(request) -> AsyncIterator[None]:
    """Each folder that imports the e2e `stack` gets its own stack (a session fixture per conftest), and tests of
    several folders interleave in a random order: make sure this test's stack's settings are the ones in force
    (another folder's stack may have set its own since), and put back what was there after."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack = request.getfixturevalue("stack")
    saved = {name: os.environ.get(name) for name in stack.settings}
    changed = any(saved[name] != value for name, value in stack.settings.items())
    if changed:
        os.environ.update(stack.settings)
        await close_services()
    yield
    if changed:
        restore_environ(saved)
        await close_services()
