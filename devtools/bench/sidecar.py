"""The benchmark's "network side", in its own process: the ACS emulator and counting proxies.

Running apart from the app keeps the emulator's and the proxies' CPU off the app's event loop, as the
real services would be. It serves:

- the ACS emulator (its REST API and its /emulator/* controls), reached directly by the benchmark;
- counting proxies: `app_acs` and `app_tables` (the app's settings point at these), `floor_acs` and
  `floor_tables` (the floor measurements use these), so app and floor requests are counted apart and pay
  the same extra hop;
- a control server: `GET /bench/counters` (every proxy's counts) and a sink at `/api/callbacks/...` that
  answers 200 to the callbacks the emulator posts, so that they can be replayed to the app under
  measurement.

`python -m devtools.bench.sidecar --azurite-port P [--latency-ms N] [--table-latency-ms N]` prints one
JSON line with the ports once listening, and stops on SIGTERM/SIGINT or when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from devtools.bench.proxy import CountingProxy
from devtools.emulator import Emulator

PROXIES = ("app_acs", "app_tables", "floor_acs", "floor_tables")


async def _serve(args: argparse.Namespace) -> None:
    control = web.Application()
    emulator = Emulator(app_url="http://127.0.0.1:9", time_scale=0.01, latency_ms=args.latency_ms)
    await emulator.start()
    proxies = {
        "app_acs": CountingProxy("app_acs", emulator.port),
        "floor_acs": CountingProxy("floor_acs", emulator.port),
        # The emulator adds its latency itself; Azurite has none, so its proxies hold each request.
        "app_tables": CountingProxy("app_tables", args.azurite_port, latency_ms=args.table_latency_ms),
        "floor_tables": CountingProxy("floor_tables", args.azurite_port, latency_ms=args.table_latency_ms),
    }
    for proxy in proxies.values():
        await proxy.start()

    async def counters(request: web.Request) -> web.Response:
        return web.json_response({name: proxy.snapshot() for name, proxy in proxies.items()})

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"applied": 0, "duplicates": 0})

    control.router.add_get("/bench/counters", counters)
    control.router.add_post("/api/callbacks/{tail:.*}", sink)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = runner.addresses[0][1]
    emulator.app_url = f"http://127.0.0.1:{control_port}"

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    # Stop when the parent goes away (its end of our stdin closes).
    loop.add_reader(sys.stdin.fileno(), lambda: stopping.set() if not sys.stdin.buffer.read1(1) else None)
    print(json.dumps({"ready": True, "emulator": emulator.port, "control": control_port,
                      "access_key": emulator.access_key, "resource_id": emulator.resource_id,
                      "issuer": emulator.issuer, **{name: p.port for name, p in proxies.items()}}), flush=True)
    try:
        await stopping.wait()
    finally:
        loop.remove_reader(sys.stdin.fileno())
        for proxy in proxies.values():
            await proxy.stop()
        await emulator.stop()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.sidecar", description=__doc__)
    parser.add_argument("--azurite-port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0, help="the emulator's added latency per request")
    parser.add_argument("--table-latency-ms", type=float, default=0, help="added latency per Table Storage request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args))


@dataclass
class SidecarInfo:
    emulator: int
    control: int
    access_key: str
    resource_id: str
    issuer: str
    ports: dict[str, int]

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control}"

    def proxy_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


class Sidecar:
    """Starts the sidecar process and talks to it (and to the emulator's controls) over loopback HTTP."""

    def __init__(self, azurite_port: int, latency_ms: int = 0, table_latency_ms: float = 0) -> None:
        self.args = ["--azurite-port", str(azurite_port), "--latency-ms", str(latency_ms),
                     "--table-latency-ms", str(table_latency_ms)]
        self.process: asyncio.subprocess.Process | None = None
        self.info: SidecarInfo | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self, cwd: str) -> SidecarInfo:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devtools.bench.sidecar", *self.args, cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout=30)
        if not line:
            raise RuntimeError(f"the bench sidecar exited at start (code {await self.process.wait()})")
        data = json.loads(line)
        self.info = SidecarInfo(data["emulator"], data["control"], data["access_key"], data["resource_id"],
                                data["issuer"], {name: data[name] for name in PROXIES})
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        return self.info

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.process = None

    async def counters(self) -> dict[str, Any]:
        assert self.http is not None and self.info is not None
        async with self.http.get(f"{self.info.control_url}/bench/counters") as response:
            return await response.json()

    async def emulator(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 204)
                       ) -> Any:
        """Call one of the emulator's /emulator/* controls directly (not through a proxy)."""
        assert self.http is not None and self.info is not None
        async with self.http.request(method, f"{self.info.emulator_url}{path}",
                                     data=None if body is None else json.dumps(body),
                                     headers={"Content-Type": "application/json"}) as response:
            text = await response.read()
            if response.status not in expect:
                raise RuntimeError(f"emulator {method} {path} answered {response.status}: {text[:300]!r}")
            return json.loads(text) if text else None

    async def incoming_call(self, from_: str, to: str) -> dict[str, Any]:
        """A ringing call's Event Grid event, not delivered."""
        return await self.emulator("POST", "/emulator/incoming-calls?deliver=false", {"from": from_, "to": to})

    async def idle(self, timeout: float = 30) -> None:
        await self.emulator("POST", f"/emulator/idle?timeout={timeout}")

    async def callbacks(self) -> list[dict[str, Any]]:
        return await self.emulator("GET", "/emulator/callbacks")

    async def token(self) -> str:
        return (await self.emulator("POST", "/emulator/callback-tokens", {}))["token"]


if __name__ == "__main__":
    main()
