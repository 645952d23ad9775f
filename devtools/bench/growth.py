"""The listing as the table grows: p50 of GET /api/calls?limit=50 (plain and filtered) with N calls stored.

For each size a fresh Azurite holds N calls' main rows in the app's own row format (shared.adapters.call_rows):
the first sizes (up to `through_app`) are written through the app's own store over HTTP; larger ones are written
straight into Azurite's LokiJS file before it starts (Azurite inserts one row per request, and on this shared
machine that is ~60 rows a second: 100,000 calls would take half an hour). Each size is then listed through the
registered `list_calls` function, with the app's settings pointing at a counting proxy in front of that Azurite,
so every Table request is counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from devtools.bench.proxy import CountingProxy
from devtools.bench.stats import summary_ms
from devtools.stack import restore_environ

STATES = ("disconnected", "rejected", "redirected", "failed", "connected", "transferred")
QUERIES = {"plain": "limit=50", "state=failed": "limit=50&state=failed",
           "direction=outbound": "limit=50&direction=outbound"}
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def stored_call(n: int, started: datetime) -> Any:
    """The n-th synthetic call as the app records it, begun at `started` (six states, a third outbound)."""
    from shared.domain.call import Call
    from shared.domain.callback_tokens import inbound_call_key, new_call_key

    inbound = n % 3 != 0
    key = inbound_call_key(f"event-{n}", started) if inbound else new_call_key(started)
    connected = STATES[n % len(STATES)] not in ("rejected", "redirected")
    cid = f"{n:08d}-0000-4000-8000-{random.getrandbits(48):012x}" if connected else key
    return Call(id=cid, call_key=key, direction="inbound" if inbound else "outbound", state=STATES[n % len(STATES)],
                started_at=started, updated_at=started, call_connection_id=cid if connected else None,
                correlation_id=f"corr-{n}", from_="+14255550100", to="+18005550100",
                decision={"action": "answer", "rule": "support"})


def _main_row(n: int) -> dict[str, Any]:
    from shared.adapters import call_rows

    return call_rows.layout(stored_call(n, BASE + timedelta(seconds=n)), None, []).main


def write_loki_file(folder: Path, count: int) -> None:
    """Azurite's LokiJS database file holding a `calls` table with `count` main rows (Azurite's own layout of an
    entity: its keys, its properties as sent on the wire, a last-modified time and the ETag made from it)."""
    now = datetime.now(timezone.utc)
    docs = []
    for n in range(count):
        row = _main_row(n)
        stamp = (now + timedelta(microseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        properties = {**row, "Timestamp": stamp, "Timestamp@odata.type": "Edm.DateTime"}
        docs.append({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], "properties": properties,
                     "lastModifiedTime": stamp, "eTag": "W/\"datetime'" + stamp.replace(":", "%3A") + "'\"",
                     "meta": {"revision": 0, "created": int(now.timestamp() * 1000), "version": 0}, "$loki": n + 1})
    by_pk = sorted(range(count), key=lambda i: docs[i]["PartitionKey"])
    collection = {
        "name": f"{ACCOUNT}$calls", "data": docs, "idIndex": None,
        "binaryIndices": {"PartitionKey": {"name": "PartitionKey", "dirty": False, "values": by_pk},
                          "RowKey": {"name": "RowKey", "dirty": False, "values": list(range(count))}},
        "constraints": None, "uniqueNames": [], "transforms": {}, "objType": f"{ACCOUNT}$calls", "dirty": False,
        "cachedIndex": None, "cachedBinaryIndex": None, "cachedData": None, "adaptiveBinaryIndices": True,
        "transactional": False, "cloneObjects": False, "cloneMethod": "parse-stringify", "asyncListeners": False,
        "disableMeta": False, "disableChangesApi": True, "disableDeltaChangesApi": True, "autoupdate": False,
        "serializableIndices": True, "disableFreeze": True, "ttl": None, "maxId": count, "DynamicViews": [],
        "events": {"insert": [], "update": [], "pre-insert": [], "pre-update": [], "close": [], "flushbuffer": [],
                   "error": [], "delete": [None], "warning": [None]}, "changes": [], "dirtyIds": []}
    table = {"name": "calls", "account": ACCOUNT, "table": "calls",
             "meta": {"revision": 0, "created": int(now.timestamp() * 1000), "version": 0}, "$loki": 1}
    tables = dict(collection, name="$TABLES_COLLECTION$", objType="$TABLES_COLLECTION$", data=[table], maxId=1,
                  binaryIndices={})
    services = dict(collection, name="$SERVICES_COLLECTION$", objType="$SERVICES_COLLECTION$", data=[], maxId=0,
                    binaryIndices={})
    database = {"filename": str(folder / "__azurite_db_table__.json"), "collections": [tables, services, collection],
                "databaseVersion": 1.5, "engineVersion": 1.5, "autosave": False, "autosaveInterval": 5000,
                "autosaveHandle": None, "throttledSaves": True, "options": {"persistenceMethod": "fs"},
                "persistenceMethod": "fs", "persistenceAdapter": None, "verbose": False, "events": {
                    "init": [None], "loaded": [], "flushChanges": [], "close": [], "changes": [], "warning": []},
                "ENV": "NODEJS"}
    (folder / "__azurite_db_table__.json").write_text(json.dumps(database), encoding="utf-8")


async def _fill_through_app(connection_string: str, count: int) -> None:
    from azure.data.tables.aio import TableClient

    from shared.adapters.store import TableCallStore

    store = TableCallStore(TableClient.from_connection_string(connection_string, "calls"))
    gate = asyncio.Semaphore(32)

    async def one(n: int) -> None:
        async with gate:
            await store.insert(stored_call(n, BASE + timedelta(seconds=n)))

    try:
        await asyncio.gather(*(one(n) for n in range(count)))
    finally:
        await store.close()


def _settings(tables: str) -> dict[str, str]:
    return {"ACS_ENDPOINT": "http://127.0.0.1:9", "ACS_ACCESS_KEY": "a2V5", "ACS_RESOURCE_ID": "bench",
            "CALLBACK_BASE_URL": "http://127.0.0.1:9", "CALLBACK_SECRET": "b" * 48, "TABLES_CONNECTION_STRING": tables,
            "ROUTING_RULES": json.dumps({"rules": [], "default": {"action": "reject", "reason": "busy"}})}


async def _list_once(list_calls: Any, query: str) -> tuple[float, int]:
    import azure.functions as func

    params = dict(part.split("=", 1) for part in query.split("&"))
    req = func.HttpRequest(method="GET", url=f"http://127.0.0.1/api/calls?{query}", headers={}, params=params,
                           route_params={}, body=b"")
    start = time.perf_counter()
    response = await list_calls(req)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"list_calls answered {response.status_code}: {response.get_body()[:300]!r}")
    return elapsed, len(json.loads(response.get_body())["calls"])


async def measure_size(count: int, through_app: int, samples: int, list_calls: Any,
                       log: Any = print) -> dict[str, Any]:
    from shared.bootstrap import close_services, reset_services

    with tempfile.TemporaryDirectory(prefix="callsteer-bench-growth-") as folder:
        started = time.perf_counter()
        if count > through_app:
            write_loki_file(Path(folder), count)
        with Azurite(location=folder) as azurite:
            if count <= through_app:
                await _fill_through_app(azurite.connection_string, count)
            fill_s = time.perf_counter() - started
            proxy = await CountingProxy("tables", azurite.port).start()
            tables = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                      f"TableEndpoint=http://127.0.0.1:{proxy.port}/{ACCOUNT};")
            saved = {k: os.environ.get(k) for k in _settings(tables)}
            os.environ.update(_settings(tables))
            reset_services()
            result: dict[str, Any] = {"calls": count, "filled": "through the app's store" if count <= through_app
                                      else "Azurite's file, in the app's row format", "fill_s": round(fill_s, 1)}
            try:
                for name, query in QUERIES.items():
                    await _list_once(list_calls, query)  # services built, connection open
                    times, requests, shown = [], [], 0
                    for _ in range(samples):
                        before = proxy.requests
                        elapsed, shown = await _list_once(list_calls, query)
                        times.append(elapsed)
                        requests.append(proxy.requests - before)
                    result[name] = {**summary_ms(times), "table_requests": max(requests), "calls_shown": shown}
                    log(f"  listing {count} calls, {name}: p50 {result[name]['p50_ms']} ms, "
                        f"{max(requests)} Table request(s)")
            finally:
                await close_services()
                await proxy.stop()
                restore_environ(saved)
                reset_services()
        return result


async def listing_growth(sizes: tuple[int, ...], through_app: int = 1000, samples: int = 15,
                         log: Any = print) -> dict[str, Any]:
    import function_app
    from devtools.host import discover

    list_calls = next(f.call for f in discover(function_app.app)[0] if f.name == "list_calls")
    return {"sizes": [await measure_size(n, through_app, samples, list_calls, log) for n in sizes],
            "through_app": through_app, "samples": samples}
