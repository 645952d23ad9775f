"""An HTTP proxy in front of Azurite that can fail on demand: answer 503 (Table Storage's ServerBusy) or drop the
connection without an answer, for the next N requests. Table Storage's SharedKey signature covers the path, not the
host, so a connection string pointing at the proxy works unchanged."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import aiohttp
from aiohttp import web
from yarl import URL

from devtools.azurite import ACCOUNT, ACCOUNT_KEY

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


class StorageProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")  # http://127.0.0.1:PORT (Azurite's origin)
        self.mode = "503"
        self.remaining = 0
        self.only: Callable[[str, str, bytes], bool] = lambda method, path, body: True
        self.delay = 0.0
        self.injected = 0
        self.forwarded = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"TableEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};")

    def fail(self, count: int, mode: str = "503", only: Callable[[str, str, bytes], bool] | None = None,
             delay: float = 0.0) -> None:
        """Fail the next `count` requests (those `only(method, path, body)` selects, after `delay` seconds): "503"
        answers ServerBusy, "drop" closes the connection unanswered, "lose-answer" lets Azurite do the request and
        then drops the answer."""
        assert mode in ("503", "drop", "lose-answer")
        self.mode, self.remaining, self.delay = mode, count, delay
        self.only = only or (lambda method, path, body: True)

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        selected = self.remaining > 0 and self.only(request.method, request.path, body)
        if selected and self.delay:
            await asyncio.sleep(self.delay)
        if selected and self.mode != "lose-answer":
            self.remaining -= 1
            self.injected += 1
            if self.mode == "drop":
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=503)  # never sent: the connection is gone
            error = {"odata.error": {"code": "ServerBusy", "message": {"lang": "en-US",
                                                                       "value": "Injected: the server is busy."}}}
            return web.Response(status=503, body=json.dumps(error).encode(),
                                headers={"Content-Type": "application/json;odata=minimalmetadata",
                                         "x-ms-error-code": "ServerBusy"})
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(request.method, URL(self.target + request.raw_path, encoded=True), headers=headers,
                                         data=body or None, skip_auto_headers=("Content-Type",)) as upstream:
            payload = await upstream.read()
            self.forwarded += 1
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        if selected and self.remaining > 0 and self.mode == "lose-answer":
            self.remaining -= 1
            self.injected += 1
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=503)  # never sent
        return web.Response(status=upstream.status, body=payload, headers=out)
