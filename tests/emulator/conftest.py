"""Fixtures for the emulator's tests: a running emulator, a callback receiver and the real SDK client.

Helpers are handed out as fixtures, not imported, so these tests do not depend on how pytest puts
test folders on sys.path.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, AsyncIterator, Callable

import aiohttp
import jwt
import pytest_asyncio
from aiohttp import web
from azure.communication.callautomation.aio import CallAutomationClient
from azure.core.credentials import AzureKeyCredential

from devtools.emulator import Emulator, signed_headers_for
from devtools.emulator.auth import decode_access_key

CALLER = "+14255550123"
APP_NUMBER = "+18005550100"
AGENT = "+14255550199"


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class CallbackReceiver:
    """A tiny app stand-in: records every POST and answers with scripted statuses (200 by default)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.received.append(Received(request.path, dict(request.query), dict(request.headers), body))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def callback_url(self, name: str = "callbacks") -> str:
        return f"{self.url}/api/{name}"

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every CloudEvent received (flattened from the posted arrays), optionally for one path."""
        return [event for r in self.received if r.path.startswith("/api/") and (path is None or r.path == path)
                for event in r.body]

    def types(self, call_connection_id: str | None = None) -> list[str]:
        """Short event types received, in arrival order, optionally for one call."""
        return [e["type"].rsplit(".", 1)[-1] for e in self.events()
                if call_connection_id is None or e["data"]["callConnectionId"] == call_connection_id]

    def event(self, name: str) -> dict[str, Any]:
        """The single received event of this short type."""
        found = [e for e in self.events() if e["type"].endswith("." + name)]
        assert len(found) == 1, f"expected one {name}, got {self.types()}"
        return found[0]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    rec = CallbackReceiver()
    await rec.start()
    yield rec
    await rec.stop()


EmulatorFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_emulator(receiver: CallbackReceiver) -> AsyncIterator[EmulatorFactory]:
    started: list[Emulator] = []

    async def make(**options: Any) -> Emulator:
        options.setdefault("app_url", receiver.url)
        options.setdefault("time_scale", 0.001)
        emu = Emulator(**options)
        await emu.start(port=0)
        started.append(emu)
        return emu

    yield make
    for emu in started:
        await emu.stop()


@pytest_asyncio.fixture
async def emu(make_emulator: EmulatorFactory) -> Emulator:
    return await make_emulator()


def sdk_client(emu: Emulator, key: str | None = None, **options: Any) -> CallAutomationClient:
    """The real SDK against the emulator; quick retries so fault tests stay fast."""
    options.setdefault("retry_backoff_factor", 0.01)
    return CallAutomationClient(emu.url, AzureKeyCredential(key or emu.access_key), **options)


@pytest_asyncio.fixture
async def client(emu: Emulator) -> AsyncIterator[CallAutomationClient]:
    async with sdk_client(emu) as sdk:
        yield sdk


async def signed_request(emu: Emulator, method: str, path_and_query: str, body: Any = None, *,
                         key: str | None = None, headers: dict[str, str] | None = None,
                         raw_body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """Send raw HTTP signed like the SDK does; return status, headers and parsed JSON (or None)."""
    data = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
    host = f"127.0.0.1:{emu.port}"
    secret = decode_access_key(key or emu.access_key)
    all_headers = {"Content-Type": "application/json",
                   **signed_headers_for(method, path_and_query, host, data, secret, formatdate(usegmt=True)),
                   **(headers or {})}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, emu.url + path_and_query, data=data, headers=all_headers) as response:
            text = await response.text()
            return response.status, dict(response.headers), json.loads(text) if text else None


async def verify_callback_token(emu: Emulator, token: str) -> dict[str, Any]:
    """Validate a callback JWT as an app would: OpenID metadata, then the key set it points to."""
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + "/calling/.well-known/acsopenidconfiguration") as response:
            metadata = await response.json()
        async with session.get(metadata["jwks_uri"]) as response:
            key_set = jwt.PyJWKSet.from_dict(await response.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in key_set.keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=emu.resource_id, issuer=metadata["issuer"],
                      options={"require": ["exp", "iat", "nbf", "iss", "aud"]})


async def answered_call(emu: Emulator, client: CallAutomationClient, receiver: CallbackReceiver,
                        **answer_options: Any) -> str:
    """An incoming call from CALLER, answered; returns its call connection id once connected."""
    event = emu.incoming_call(from_=CALLER, to=APP_NUMBER)
    result = await client.answer_call(event["data"]["incomingCallContext"], receiver.callback_url(), **answer_options)
    await emu.idle()
    return result.call_connection_id


@pytest_asyncio.fixture
async def raw(emu: Emulator) -> Callable[..., Any]:
    """signed_request bound to the emulator."""
    async def send(method: str, path_and_query: str, body: Any = None, **options: Any) -> tuple[int, dict[str, str], Any]:
        return await signed_request(emu, method, path_and_query, body, **options)
    return send


@pytest_asyncio.fixture
async def verify_token(emu: Emulator) -> Callable[[str], Any]:
    """verify_callback_token bound to the emulator."""
    async def verify(token: str) -> dict[str, Any]:
        return await verify_callback_token(emu, token)
    return verify


@pytest_asyncio.fixture
async def answered(emu: Emulator, client: CallAutomationClient, receiver: CallbackReceiver) -> Callable[..., Any]:
    """answered_call bound to the fixtures: await answered() -> call connection id."""
    async def answer(**answer_options: Any) -> str:
        return await answered_call(emu, client, receiver, **answer_options)
    return answer


@pytest_asyncio.fixture
async def make_client(emu: Emulator) -> AsyncIterator[Callable[..., CallAutomationClient]]:
    """Build extra SDK clients (another key, other retry options); closed at teardown."""
    made: list[CallAutomationClient] = []

    def make(key: str | None = None, **options: Any) -> CallAutomationClient:
        made.append(sdk_client(emu, key, **options))
        return made[-1]

    yield make
    for sdk in made:
        await sdk.close()
