"""The benchmark run: incoming calls, callbacks at several numbers of calls in flight, floors, round trips,
connections and cold start, in one run on this machine against Azurite and the local ACS emulator.

Layout of a run (one event loop in this process runs the app, its local host and the load generator):

- Azurite (node, its own process) and the sidecar (`devtools.bench.sidecar`, its own process: the ACS
  emulator plus counting proxies). The app's settings point at the `app_*` proxies, the floor's clients at
  the `floor_*` proxies, so both pay the same hop and every request and new connection is counted apart.
- Incoming call: `incoming_call` as registered is awaited with the func.EventGridEvent the host builds,
  interleaved with its floor (the bare SDK's answer_call plus one TableClient.create_entity).
- Callbacks: calls are answered by the app, then get a participant added and are ended through ACS (the
  emulator), which posts the events (CallConnected, ParticipantsUpdated, AddParticipantSucceeded,
  ParticipantsUpdated, CallDisconnected) to a sink. Those exact bodies are then replayed, each call's in
  order, to the app's callback URLs on the local host, with 1, 10, 100 calls in flight; the latency is taken
  around the host's handler. The floor replays the same shape directly: a point read and one transaction
  (main row under If-Match plus one event row) per event.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import azure.functions as func
from aiohttp import web

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from devtools.bench.coldstart import cached_bytecode_env, first_invocations, import_times
from devtools.bench.sidecar import Sidecar, SidecarInfo
from devtools.bench.stats import ratio, summary_ms
from devtools.host import LocalHost, _event_time, discover
from devtools.stack import restore_environ

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSWER_TO = "+18005550100"
AGENT_PREFIX = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-"
# A small realistic ruleset; the benchmark's calls match the last rule (answer) after the others are checked.
BENCH_RULES = {
    "rules": [
        {"name": "block-premium", "match": {"from": ["+1900*"]}, "action": "reject", "reason": "forbidden"},
        {"name": "overflow", "match": {"to": ["+18005550177"]}, "action": "redirect", "target": "+18005550199"},
        {"name": "gold", "match": {"callerKind": ["communicationUser"], "headers": {"X-MS-Custom-Tier": "gold"}},
         "action": "answer"},
        {"name": "support", "match": {"to": [ANSWER_TO]}, "action": "answer"},
    ],
    "default": {"action": "reject", "reason": "busy"},
}

# How the benchmark adds a participant to a call. Until the app's control route exists this goes straight
# to ACS (the emulator) with the SDK; to drive it through the app instead, switch this one line to
# `add_participant_via_app_route` (POST /api/calls/{id}/participants on the local host).
ADD_PARTICIPANT = "app_route"


@dataclass
class Options:
    quick: bool = False
    calls: int = 300                      # incoming_call invocations measured (each also gets a floor run)
    warmup: int = 10                      # unmeasured incoming calls first
    levels: tuple[int, ...] = (1, 10, 100)
    # calls replayed per level (measured); each level first warms up with one round of `level` calls
    level_calls: dict[int, int] = field(default_factory=lambda: {1: 40, 10: 100, 100: 300})
    latencies: tuple[int, ...] = (0, 10)  # profiles: ms added per ACS request (and per Table request, see below)
    table_latency_ms: float | None = None  # None: the same as the profile's ACS latency
    import_runs: int = 9
    cold_runs: int = 3
    # Listing growth: calls stored per size; sizes up to `growth_through_app` are written through the app's store
    growth_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    growth_through_app: int = 1_000
    growth_samples: int = 21
    out: Path = PROJECT_ROOT / "artifacts" / "bench"

    @classmethod
    def quick_mode(cls, **overrides: Any) -> "Options":
        base = cls(quick=True, calls=12, warmup=3, levels=(1, 4, 16), level_calls={1: 3, 4: 8, 16: 16},
                   latencies=(0,), import_runs=3, cold_runs=1, growth_sizes=(60, 300), growth_through_app=60,
                   growth_samples=3)
        for name, value in overrides.items():
            setattr(base, name, value)
        return base


def _settings(info: SidecarInfo, azurite: Azurite, secret: str) -> dict[str, str]:
    tables = info.proxy_url("app_tables")
    return {
        "ACS_ENDPOINT": info.proxy_url("app_acs"),
        "ACS_ACCESS_KEY": info.access_key,
        "ACS_RESOURCE_ID": info.resource_id,
        "ACS_CALLBACK_ISSUER": info.issuer,
        "ACS_CALLBACK_JWKS_URL": f"{info.proxy_url('app_acs')}/calling/keys",
        # ACS posts callbacks to the sidecar's sink; the benchmark replays them to the host under measurement.
        "CALLBACK_BASE_URL": info.control_url,
        "CALLBACK_SECRET": secret,
        "TABLES_CONNECTION_STRING": (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                                     f"TableEndpoint={tables}/{ACCOUNT};"),
        "ROUTING_RULES": json.dumps(BENCH_RULES),
    }


def grid_event(raw: dict[str, Any]) -> func.EventGridEvent:
    """The func.EventGridEvent the host hands the trigger for one wire event."""
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw.get("topic"), subject=raw.get("subject"),
                               event_type=raw["eventType"], event_time=_event_time(raw.get("eventTime")),
                               data_version=raw.get("dataVersion"))


class TimedHost(LocalHost):
    """The local host with a middleware that times every callback request around its handler."""

    def __init__(self, app: func.FunctionApp) -> None:
        super().__init__(app)
        self.samples: list[tuple[float, int]] = []

    def make_app(self) -> web.Application:
        web_app = super().make_app()

        @web.middleware
        async def timing(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
            start = time.perf_counter()
            response = await handler(request)
            if request.path.startswith("/api/callbacks/"):
                self.samples.append((time.perf_counter() - start, response.status))
            return response

        web_app.middlewares.append(timing)
        return web_app


def _delta(before: dict[str, Any], after: dict[str, Any], name: str) -> dict[str, Any]:
    routes = {k: v - before[name]["by_route"].get(k, 0) for k, v in after[name]["by_route"].items()}
    return {"requests": after[name]["requests"] - before[name]["requests"],
            "connections": after[name]["connections"] - before[name]["connections"],
            "closed_by_server": after[name]["closed_by_server"] - before[name]["closed_by_server"],
            "by_route": {k: v for k, v in routes.items() if v}}


def _per(counted: dict[str, Any], n: int) -> dict[str, Any]:
    """Counts over a window, per invocation."""
    return {"requests": round(counted["requests"] / n, 3), "new_connections": round(counted["connections"] / n, 4),
            "connections_opened": counted["connections"], "closed_by_server": counted["closed_by_server"],
            "by_route": {k: round(v / n, 3) for k, v in sorted(counted["by_route"].items())}}


class Bench:
    def __init__(self, options: Options, log: Callable[[str], None]) -> None:
        self.o = options
        self.log = log
        self.functions = discover(_function_app().app)
        self.incoming = self.functions[1]["incoming_call"].call
        self.host = TimedHost(_function_app().app)
        self.host_url = ""
        self.sidecar: Sidecar | None = None
        self.info: SidecarInfo | None = None
        self.http: aiohttp.ClientSession | None = None
        self._caller = 0
        self.pycache = ""

    # ---- helpers ---------------------------------------------------------------------------------

    def _next_caller(self) -> str:
        self._caller += 1
        return f"+1425{self._caller % 10_000_000:07d}"

    async def _ring(self) -> dict[str, Any]:
        assert self.sidecar is not None
        return await self.sidecar.incoming_call(self._next_caller(), ANSWER_TO)

    async def _added(self, connection_id: str, timeout: float = 10) -> None:
        """Wait until the emulator has connected the invited participant (so ending the call cannot cancel it)."""
        assert self.sidecar is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            call = await self.sidecar.emulator("GET", f"/emulator/calls/{connection_id}")
            if call["invitations"] and all(i["state"] != "pending" for i in call["invitations"]):
                return
            await asyncio.sleep(0.002)
        raise RuntimeError(f"the participant added to {connection_id} never joined")

    async def counters(self) -> dict[str, Any]:
        assert self.sidecar is not None
        return await self.sidecar.counters()

    # ---- one profile -----------------------------------------------------------------------------

    async def profile(self, azurite: Azurite, latency_ms: int, cold: bool) -> dict[str, Any]:
        from azure.communication.callautomation.aio import CallAutomationClient
        from azure.core.credentials import AzureKeyCredential
        from azure.data.tables.aio import TableClient

        from shared.bootstrap import close_services, reset_services

        table_latency = latency_ms if self.o.table_latency_ms is None else self.o.table_latency_ms
        self.sidecar = Sidecar(azurite.port, latency_ms, table_latency)
        self.info = info = await self.sidecar.start(str(PROJECT_ROOT))
        settings = _settings(info, azurite, uuid.uuid4().hex + uuid.uuid4().hex)
        saved = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)
        reset_services()
        floor_acs = CallAutomationClient(info.proxy_url("floor_acs"), AzureKeyCredential(info.access_key))
        floor_table = TableClient(f"{info.proxy_url('floor_tables')}/{ACCOUNT}", "calls",
                                  credential=_named_key())
        setup_acs = CallAutomationClient(info.emulator_url, AzureKeyCredential(info.access_key))
        result: dict[str, Any] = {"latency_ms": latency_ms, "table_latency_ms": table_latency}
        try:
            self.log(f"profile latency {latency_ms} ms (tables {table_latency} ms): incoming calls")
            result["incoming"] = await self.incoming_phase(floor_acs, floor_table)
            result["callbacks"] = {"levels": []}
            for level in self.o.levels:
                self.log(f"  callbacks with {level} in flight")
                result["callbacks"]["levels"].append(
                    await self.callback_level(level, self.o.level_calls[level], floor_table, setup_acs))
            if cold:
                self.log("  cold start: first invocations in fresh interpreters")
                env = {**cached_bytecode_env(self.pycache), **settings, "BENCH_EMULATOR_URL": info.emulator_url,
                       "BENCH_CONTROL_URL": info.control_url, "BENCH_ANSWER_TO": ANSWER_TO}
                result["first_invocation"] = await asyncio.to_thread(first_invocations, env, self.o.cold_runs)
        finally:
            await close_services()
            for client in (floor_acs, floor_table, setup_acs):
                await client.close()
            await self.sidecar.stop()
            restore_environ(saved)
            reset_services()
        return result

    # ---- incoming calls --------------------------------------------------------------------------

    async def incoming_phase(self, floor_acs: Any, floor_table: Any) -> dict[str, Any]:
        assert self.info is not None
        sink = f"{self.info.control_url}/api/callbacks/floor/0"
        template: dict[str, Any] = {}

        async def floor_once(raw: dict[str, Any]) -> None:
            # The floor: the bare SDK request that answers the call, and one write of a row like the app's.
            await floor_acs.answer_call(raw["data"]["incomingCallContext"], sink)
            await floor_table.create_entity({**template, "PartitionKey": str(uuid.uuid4())})

        for _ in range(self.o.warmup):
            await self.incoming(event=grid_event(await self._ring()))
        template.update(await _template_row(floor_table))
        for _ in range(self.o.warmup):
            await floor_once(await self._ring())

        app_s, floor_s, app_counts, floor_counts, app_cpu, floor_cpu = [], [], [], [], [], []
        for i in range(self.o.calls):
            app_event, floor_event = await self._ring(), await self._ring()
            before = await self.counters()
            for which in ((0, 1) if i % 2 == 0 else (1, 0)):
                cpu, start = time.process_time(), time.perf_counter()
                if which == 0:
                    await self.incoming(event=grid_event(app_event))
                    app_s.append(time.perf_counter() - start)
                    app_cpu.append(time.process_time() - cpu)
                else:
                    await floor_once(floor_event)
                    floor_s.append(time.perf_counter() - start)
                    floor_cpu.append(time.process_time() - cpu)
            after = await self.counters()
            app_counts.append({"acs": _delta(before, after, "app_acs"), "tables": _delta(before, after, "app_tables")})
            floor_counts.append({"acs": _delta(before, after, "floor_acs"),
                                 "tables": _delta(before, after, "floor_tables")})
        app, floor = summary_ms(app_s), summary_ms(floor_s)
        return {"calls": self.o.calls, "app": app, "floor": floor,
                "ratio_p50": ratio(app["p50_ms"], floor["p50_ms"]), "ratio_p99": ratio(app["p99_ms"], floor["p99_ms"]),
                "round_trips": {"app": _count_summary(app_counts), "floor": _count_summary(floor_counts)},
                "cpu_ms_per_call": {"app": round(sum(app_cpu) * 1000 / len(app_cpu), 3),
                                    "floor": round(sum(floor_cpu) * 1000 / len(floor_cpu), 3)}}

    # ---- callbacks -------------------------------------------------------------------------------

    async def prepare_calls(self, count: int, setup_acs: Any) -> list[list[dict[str, Any]]]:
        """Calls answered by the app that then got a participant and ended; each call's posted events, in order."""
        assert self.sidecar is not None
        gate = asyncio.Semaphore(16)
        events: list[dict[str, Any]] = []

        async def answer() -> None:
            async with gate:
                raw = await self._ring()
                await self.incoming(event=grid_event(raw))
                events.append(raw)

        await asyncio.gather(*(answer() for _ in range(count)))
        listing = await self.sidecar.emulator("GET", "/emulator/calls")
        by_correlation = {c["correlationId"]: c["callConnectionId"] for c in listing["incomingCalls"]}
        ids = [by_correlation[raw["data"]["correlationId"]] for raw in events]
        if any(i is None for i in ids):
            raise RuntimeError("the app did not answer every benchmark call")

        async def add_and_end(n: int, connection_id: str) -> None:
            async with gate:
                await ADD_PARTICIPANTS[ADD_PARTICIPANT](self, setup_acs, connection_id, n)
                await self._added(connection_id)
                await setup_acs.get_call_connection(connection_id).hang_up(is_for_everyone=True)

        await asyncio.gather(*(add_and_end(n, cid) for n, cid in enumerate(ids)))
        await self.sidecar.idle(60)
        wanted = set(ids)
        by_call: dict[str, list[dict[str, Any]]] = {cid: [] for cid in ids}
        for record in await self.sidecar.callbacks():
            if record["call_connection_id"] in wanted:
                by_call[record["call_connection_id"]].append(record)
        calls = [by_call[cid] for cid in ids]
        shapes = {tuple(r["type"] for r in call) for call in calls}
        if len(shapes) != 1:
            raise RuntimeError(f"calls went through different event sequences: {shapes}")
        return calls

    async def replay(self, calls: list[list[dict[str, Any]]], level: int, token: str
                     ) -> tuple[list[float], list[float], float, dict[int, int]]:
        """Post each call's events in order to its callback URL on the host, `level` calls at a time."""
        assert self.http is not None
        pending = iter(calls)
        client_s: list[float] = []
        statuses: dict[int, int] = {}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.host.samples.clear()

        async def worker() -> None:
            for call in pending:
                for record in call:
                    url = self.host_url + urlsplit(record["url"]).path
                    body = json.dumps([record["event"]]).encode()
                    start = time.perf_counter()
                    async with self.http.post(url, data=body, headers=headers) as response:  # type: ignore[union-attr]
                        await response.read()
                    client_s.append(time.perf_counter() - start)
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        elapsed = time.perf_counter() - start
        host_s = [s for s, _ in self.host.samples]
        return host_s, client_s, elapsed, statuses

    async def floor_replay(self, table: Any, partitions: list[str], events_per_call: int, level: int,
                           event_template: dict[str, Any]) -> tuple[list[float], float]:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        pending = iter(partitions)
        samples: list[float] = []

        async def worker() -> None:
            for pk in pending:
                for n in range(events_per_call):
                    start = time.perf_counter()
                    # The minimum for one event: read the call, write it back under If-Match (one entity).
                    main = await table.get_entity(pk, "call")
                    etag = main.metadata["etag"]
                    updated = {**main, "eventCount": int(main.get("eventCount", 0)) + 1,
                               "updatedAt": datetime.now(timezone.utc).isoformat()}
                    await table.update_entity(updated, mode=UpdateMode.REPLACE, etag=etag,
                                              match_condition=MatchConditions.IfNotModified)
                    samples.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        return samples, time.perf_counter() - start

    async def callback_level(self, level: int, calls: int, floor_table: Any, setup_acs: Any) -> dict[str, Any]:
        assert self.sidecar is not None
        warm = await self.prepare_calls(level, setup_acs)
        measured = await self.prepare_calls(calls, setup_acs)
        events_per_call = len(measured[0])
        token = await self.sidecar.token()
        main_template = await _template_row(floor_table)

        async def floor_partitions(n: int) -> list[str]:
            keys = [str(uuid.uuid4()) for _ in range(n)]
            gate = asyncio.Semaphore(16)

            async def make(pk: str) -> None:
                async with gate:
                    await floor_table.create_entity({**main_template, "PartitionKey": pk})
            await asyncio.gather(*(make(pk) for pk in keys))
            return keys

        floor_warm, floor_keys = await floor_partitions(level), await floor_partitions(calls)
        # Warm-up at this level (connections opened, caches filled) right before each measured window, so that
        # no idle gap lets the servers close pooled connections in between.
        await self.replay(warm, level, token)
        event_template = await _template_row(floor_table, events=True)
        before, cpu0 = await self.counters(), time.process_time()
        host_s, client_s, elapsed, statuses = await self.replay(measured, level, token)
        middle, cpu1 = await self.counters(), time.process_time()
        await self.floor_replay(floor_table, floor_warm, events_per_call, level, event_template)
        middle2, cpu2 = await self.counters(), time.process_time()
        floor_s, floor_elapsed = await self.floor_replay(floor_table, floor_keys, events_per_call, level,
                                                         event_template)
        after, cpu3 = await self.counters(), time.process_time()
        n_events = calls * events_per_call
        app, floor, client = summary_ms(host_s), summary_ms(floor_s), summary_ms(client_s)
        app_tp, floor_tp = n_events / elapsed, n_events / floor_elapsed
        return {
            "in_flight": level, "calls": calls, "events": n_events,
            "events_per_call": [r["type"] for r in measured[0]],
            "statuses": {str(k): v for k, v in statuses.items()},
            "app": {**app, "client_p50_ms": client.get("p50_ms"), "client_p99_ms": client.get("p99_ms"),
                    "throughput_eps": round(app_tp, 1), "elapsed_s": round(elapsed, 3)},
            "floor": {**floor, "throughput_eps": round(floor_tp, 1), "elapsed_s": round(floor_elapsed, 3)},
            "ratio_p50": ratio(app["p50_ms"], floor["p50_ms"]), "ratio_p99": ratio(app["p99_ms"], floor["p99_ms"]),
            "throughput_ratio": ratio(app_tp, floor_tp),
            "round_trips": {
                "app": {"acs": _per(_delta(before, middle, "app_acs"), n_events),
                        "tables": _per(_delta(before, middle, "app_tables"), n_events)},
                "floor": {"acs": _per(_delta(middle2, after, "floor_acs"), n_events),
                          "tables": _per(_delta(middle2, after, "floor_tables"), n_events)},
            },
            # CPU of this process (app + host + load generator, or floor client) per event.
            "cpu_ms_per_event": {"app": round((cpu1 - cpu0) * 1000 / n_events, 3),
                                 "floor": round((cpu3 - cpu2) * 1000 / n_events, 3)},
        }

    # ---- the whole run ---------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="callsteer-bench-pycache-") as cache:
            self.pycache = cache
            return await self._run()

    async def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        meta = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "mode": "quick" if self.o.quick else "full", "machine": machine(), "git": _git(),
                "options": {"calls": self.o.calls, "warmup": self.o.warmup, "levels": list(self.o.levels),
                            "level_calls": {str(k): v for k, v in self.o.level_calls.items()},
                            "latencies_ms": list(self.o.latencies), "table_latency_ms": self.o.table_latency_ms,
                            "add_participant": ADD_PARTICIPANT, "growth_sizes": list(self.o.growth_sizes)}}
        self.log("cold start: import times")
        imports = await asyncio.to_thread(import_times, self.o.import_runs, self.pycache)
        profiles = []
        self.host_url = await self.host.start()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        try:
            with Azurite() as azurite:
                for n, latency in enumerate(self.o.latencies):
                    profiles.append(await self.profile(azurite, latency, cold=n == 0))
        finally:
            await self.http.close()
            await self.host.stop()
        self.log("listing growth: " + ", ".join(f"{n:,}" for n in self.o.growth_sizes) + " calls stored")
        from devtools.bench.growth import listing_growth

        growth = await listing_growth(self.o.growth_sizes, self.o.growth_through_app, self.o.growth_samples,
                                      lambda m: self.log(m))
        cold = {"import": imports, "first_invocation": profiles[0].pop("first_invocation", None)}
        meta["duration_s"] = round(time.perf_counter() - started, 1)
        from devtools.bench.report import targets

        results = {"meta": meta, "profiles": profiles, "cold_start": cold, "listing_growth": growth}
        results["targets"] = targets(results)
        return results


ADD_PARTICIPANTS: dict[str, Callable[..., Awaitable[None]]] = {}


async def add_participant_via_sdk(bench: Bench, setup_acs: Any, connection_id: str, n: int) -> None:
    """What the app's add route will ask ACS for, sent directly: ACS then posts AddParticipantSucceeded and
    ParticipantsUpdated to the call's callback URL."""
    from azure.communication.callautomation import CommunicationUserIdentifier

    await setup_acs.get_call_connection(connection_id).add_participant(
        CommunicationUserIdentifier(f"{AGENT_PREFIX}{n % 10**12:012d}"), operation_context="bench-add")


async def add_participant_via_app_route(bench: Bench, setup_acs: Any, connection_id: str, n: int) -> None:
    """The app's own control route (being built): POST /api/calls/{id}/participants."""
    assert bench.http is not None
    async with bench.http.post(f"{bench.host_url}/api/calls/{connection_id}/participants",
                               json={"target": f"{AGENT_PREFIX}{n % 10**12:012d}"}) as response:
        if response.status >= 300:
            raise RuntimeError(f"add participant answered {response.status}: {(await response.text())[:300]}")


ADD_PARTICIPANTS.update(sdk=add_participant_via_sdk, app_route=add_participant_via_app_route)


def _count_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-invocation request counts: mean and max per service, new connections, and routes per invocation."""
    n = len(rows)
    out: dict[str, Any] = {}
    for service in ("acs", "tables"):
        reqs = [r[service]["requests"] for r in rows]
        routes: dict[str, int] = {}
        for r in rows:
            for k, v in r[service]["by_route"].items():
                routes[k] = routes.get(k, 0) + v
        out[service] = {"requests": round(sum(reqs) / n, 3), "max": max(reqs), "min": min(reqs),
                        "new_connections": round(sum(r[service]["connections"] for r in rows) / n, 4),
                        "by_route": {k: round(v / n, 3) for k, v in sorted(routes.items())}}
    return out


async def _template_row(table: Any, events: bool = False) -> dict[str, Any]:
    """A row the app wrote (a call's main row, or one of its event rows), as the floor's payload."""
    query = "RowKey gt 'evt-' and RowKey lt 'evt-~'" if events else "RowKey eq 'call'"
    async for entity in table.query_entities(query, results_per_page=1):
        return {k: v for k, v in entity.items()}
    if events:
        return {"eventId": str(uuid.uuid4()), "type": "Microsoft.Communication.ParticipantsUpdated",
                "time": datetime.now(timezone.utc).isoformat()}
    raise RuntimeError("no call row to copy: the app recorded nothing")


def _named_key() -> Any:
    from azure.core.credentials import AzureNamedKeyCredential

    return AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)


def _function_app() -> Any:
    import function_app

    return function_app


def _git() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "function_app.py", "shared"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return {"commit": commit, "app_modified": bool(dirty)}
    except (OSError, subprocess.CalledProcessError):
        return {}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "memory_gb": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}
