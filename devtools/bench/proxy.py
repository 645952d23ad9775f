"""A counting HTTP/1.1 proxy on loopback: forwards bytes to one upstream, counts connections and requests.

Put in front of Azurite or the ACS emulator, it counts what the client really sends: every new TCP
connection, and every HTTP request by method and path shape (query dropped, quoted keys and ids masked).
It can hold each request for a fixed time before forwarding it, to stand in for network latency.
Responses are forwarded untouched and unparsed.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

_HEAD_LIMIT = 1 << 20
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_QUOTED = re.compile(r"'[^']*'")
# /api/callbacks/{callKey}/{token} and similar opaque segments.
_LONG_SEGMENT = re.compile(r"/[A-Za-z0-9_\-]{20,}(?=/|$)")


def path_shape(method: str, target: str) -> str:
    """`GET /devstoreaccount1/calls(PartitionKey='x',RowKey='call')?$x=1` -> `GET /devstoreaccount1/calls(PartitionKey=*,RowKey=*)`."""
    path = target.split("?", 1)[0]
    path = _QUOTED.sub("*", path)
    path = _UUID.sub("{id}", path)
    path = _LONG_SEGMENT.sub("/{key}", path)
    return f"{method} {path}"


class CountingProxy:
    """One listening socket; each accepted connection gets its own upstream connection."""

    def __init__(self, name: str, upstream_port: int, upstream_host: str = "127.0.0.1", latency_ms: float = 0) -> None:
        self.name = name
        self.upstream = (upstream_host, upstream_port)
        self.latency_s = latency_ms / 1000
        self.connections = 0
        self.open_connections = 0
        self.requests = 0
        # Connections whose server side closed first (e.g. an idle keep-alive timeout), not the client.
        self.closed_by_server = 0
        self.by_route: Counter[str] = Counter()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def snapshot(self) -> dict[str, Any]:
        return {"connections": self.connections, "open": self.open_connections, "requests": self.requests,
                "closed_by_server": self.closed_by_server, "by_route": dict(self.by_route)}

    async def start(self, port: int = 0) -> "CountingProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port, limit=_HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream, limit=_HEAD_LIMIT)
            upstream = asyncio.ensure_future(self._pipe(up_reader, writer))
            try:
                await self._requests(reader, up_writer)
            finally:
                if upstream.done():
                    self.closed_by_server += 1
                else:
                    try:
                        up_writer.write_eof()
                    except (OSError, RuntimeError):
                        pass
                # The client is done sending: let the last response through, then close.
                try:
                    await asyncio.wait_for(upstream, timeout=30)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    upstream.cancel()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
            if task is not None:
                self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError):
                pass

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        """Parse the client's request stream (heads, Content-Length or chunked bodies), count, forward."""
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            self.requests += 1
            self.by_route[path_shape(method, target)] += 1
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            up.write(head)
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    up.write(size_line)
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    up.write(await reader.readexactly(size + 2))
                    if size == 0:
                        break
            else:
                remaining = int(headers.get("content-length", "0") or 0)
                while remaining:
                    chunk = await reader.read(min(remaining, 65536))
                    if not chunk:
                        return
                    up.write(chunk)
                    remaining -= len(chunk)
            await up.drain()
