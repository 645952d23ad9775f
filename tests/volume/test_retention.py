"""Retention deletes every row of the calls older than CALL_RETENTION_DAYS, the legs rows and voicemails of that
age, and nothing else: calls, their legs rows and voicemails are made through the app at chosen times by moving its
clock (CLOCK_OFFSET_SECONDS, a setting), then the registered `retention` timer function runs, twice in a row, and
from two OS processes at once. A run's bound (and `more`) is checked on rows written by the stores themselves."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from datetime import datetime, timedelta, timezone

from azure.data.tables.aio import TableClient
from azure.functions.timer import TimerRequest
import pytest

import function_app
from devtools.azurite import Azurite
from devtools.bench.proxy import CountingProxy
from devtools.host import timer_functions
from shared.adapters import call_rows, expiry
from shared.adapters.legs import Legs, TableLegStore, legs_partition
from shared.adapters.store import TableCallStore
from shared.adapters.voicemails import TableVoicemailStore
from shared.handlers import retention
from tests.e2e.conftest import E2E_RULES
from tests.e2e.test_flows import settle
from tests.reliability.helpers import PROJECT_ROOT, cloud_event, rows

pytestmark = pytest.mark.e2e
DAY = 86_400
# An ACS user: a call created to it has a legs row (its IncomingCall is known as the app's own by it).
TARGET = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-00000000c0de"
MESSAGES = "+18005550160"
VOICEMAIL_RULES = json.dumps({**E2E_RULES, "flows": {"voicemail": {"voicemail": {
    "prompt": "https://media.example.com/leave-a-message.wav", "maxSeconds": 20}}}, "rules": [
    {"name": "messages", "match": {"to": [MESSAGES]}, "action": "answer", "then": {"flow": "voicemail"}},
    *E2E_RULES["rules"]]})


async def place(stack, settings_changed, day: float, events: int = 0) -> dict:
    """An outbound call created through the control API while the app's clock reads `day` days from now (ahead,
    never behind: ACS refuses a Repeatability-First-Sent older than 5 minutes)."""
    settings_changed(CLOCK_OFFSET_SECONDS=str(int(day * DAY)))
    status, created = await stack.post(f"{stack.url}/api/calls", {"targets": [TARGET]})
    assert status == 201, created
    await stack.emulator.idle()
    _, call = await stack.get(f"/api/calls/{created['callConnectionId']}")
    if events:
        key = call_key_of(stack, created["callConnectionId"])
        body = [cloud_event("PlayCompleted", call, operationContext=f"ctx-{n}") for n in range(events)]
        for start in range(0, events, 10):
            status, _ = await stack.post(stack.callback_url(key), body[start:start + 10])
            assert status == 200
    return call


def call_key_of(stack, connection_id: str) -> str:
    delivered = next(c for c in stack.emulator.callbacks if c["call_connection_id"] == connection_id)
    return delivered["url"].rstrip("/").split("/")[-2]


async def partition_of(stack, call_id: str) -> list[tuple[str, str]]:
    """The keys of every row of a call: its partition and its pointer. (A kept call's rows may change: reading a
    call silent for days checks it with ACS and records that.)"""
    found = await rows(stack, "RowKey eq 'call' and id eq @i", i=call_id)
    own = await rows(stack, "PartitionKey eq @p", p=found[0]["PartitionKey"]) if found else []
    pointer = await rows(stack, "PartitionKey eq @p", p=call_rows.pointer_key(call_id))
    return sorted((r["PartitionKey"], r["RowKey"]) for r in own + pointer)


async def legs_rows(stack, call: dict) -> list[tuple[str, str]]:
    """The keys of the legs row of a call's correlation id (none once deleted)."""
    found = await rows(stack, "PartitionKey eq @p", p=legs_partition(call["correlationId"]))
    return [(r["PartitionKey"], r["RowKey"]) for r in found]


async def leave_voicemail(stack, settings_changed, caller: str, ago: float = 0) -> dict:
    """A caller leaves a voicemail (answered, prompt, recording, the file's event) in a call that began `ago` seconds
    ago. An inbound call begins at its IncomingCall's eventTime, on the wire's clock (which CLOCK_OFFSET_SECONDS
    leaves alone), and the app acts on one up to 5 minutes old: the event says it began that long ago. Returns the
    call once its list row and its recording's link are stored."""
    settings_changed(CLOCK_OFFSET_SECONDS="0", ROUTING_RULES=VOICEMAIL_RULES)
    event = stack.emulator.incoming_call(from_=caller, to=MESSAGES)
    event["eventTime"] = (datetime.now(timezone.utc) - timedelta(seconds=ago)).isoformat()
    assert await stack.emulator.deliver_incoming_call(event) == 200
    call = await settle(stack, event)
    for _ in range(100):
        if len(await voicemail_rows(stack, call["id"])) == 2:
            break
        await asyncio.sleep(0.1)
    assert [pk.split("-")[0] for pk, _ in await voicemail_rows(stack, call["id"])] == ["list", "server"], call["id"]
    return call


async def voicemail_rows(stack, call_id: str) -> list[tuple[str, str]]:
    """The keys of a call's rows in the voicemails table: its list row and its recording's link."""
    async with TableClient.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"], "voicemails") as table:
        pager = table.query_entities("callId eq @c", parameters={"c": call_id})
        return sorted([(e["PartitionKey"], e["RowKey"]) async for e in pager])


async def listed_voicemails(stack) -> set[str]:
    status, body = await stack.get("/api/voicemails?limit=500")
    assert status == 200, body
    return {v["callId"] for v in body["voicemails"]}


async def run_retention() -> None:
    await timer_functions(function_app.app)["retention"].call(timer=TimerRequest(past_due=False))


async def run_retention_in_two_processes(stack, **settings: str) -> None:
    """The registered `retention` function run by two OS processes at once (two instances), with these settings."""
    env = {**os.environ, **stack.settings, **settings, "PYTHONPATH": PROJECT_ROOT}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.volume.retention_worker", cwd=PROJECT_ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE) for _ in range(2)]
    try:
        for proc in procs:
            assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
        for proc in procs:
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outcomes = [json.loads((await asyncio.wait_for(proc.communicate(), 60))[0].decode().strip().splitlines()[-1])
                    for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert outcomes == [{"ok": True}, {"ok": True}], outcomes


async def test_retention_deletes_every_row_of_old_calls_and_their_legs_rows_and_nothing_else_twice_in_a_row(
        stack, settings_changed):
    # Retention runs on day 10 keeping 3 days: the calls of days 0 and 6 go, those of days 8 and 10 stay; so do
    # their legs rows (each call rings an ACS user: a legs row, written on the app's clock).
    old = [await place(stack, settings_changed, 0, events=30), await place(stack, settings_changed, 6)]
    kept = [await place(stack, settings_changed, 8), await place(stack, settings_changed, 10)]
    for call in old + kept:
        assert await legs_rows(stack, call) == [(legs_partition(call["correlationId"]), "legs")], call["id"]
    for call in old:
        assert len(await partition_of(stack, call["id"])) >= 2
    assert len(await partition_of(stack, old[0]["id"])) > 3, "the long call has log pages of its own"
    kept_rows = {c["id"]: await partition_of(stack, c["id"]) for c in kept}

    settings_changed(CALL_RETENTION_DAYS="3", CLOCK_OFFSET_SECONDS=str(10 * DAY))
    for run in (1, 2):
        await run_retention()
        for call in old:
            assert await partition_of(stack, call["id"]) == [], (run, call["id"])
            assert await legs_rows(stack, call) == [], (run, call["id"])
            assert (await stack.get(f"/api/calls/{call['id']}"))[0] == 404
        for call in kept:
            assert await partition_of(stack, call["id"]) == kept_rows[call["id"]], run
            assert await legs_rows(stack, call) == [(legs_partition(call["correlationId"]), "legs")], run
            assert (await stack.get(f"/api/calls/{call['id']}"))[0] == 200
    _, page = await stack.get("/api/calls?limit=500&direction=outbound")
    listed = {c["id"] for c in page["calls"]}
    assert not listed & {c["id"] for c in old} and {c["id"] for c in kept} <= listed


async def test_retention_deletes_old_voicemails_with_their_calls_and_keeps_newer_ones_twice_in_a_row(
        stack, settings_changed):
    # Keeping 1 day, on a clock 75 s short of a day ahead: the voicemail of a call that began 150 s ago goes (its
    # list row, its recording's link, its call), that of a call begun now stays.
    old = await leave_voicemail(stack, settings_changed, "+14255550911", ago=150)
    kept = await leave_voicemail(stack, settings_changed, "+14255550912")
    kept_rows = await voicemail_rows(stack, kept["id"])
    assert {old["id"], kept["id"]} <= await listed_voicemails(stack)

    settings_changed(CALL_RETENTION_DAYS="1", CLOCK_OFFSET_SECONDS=str(DAY - 75))
    for run in (1, 2):
        await run_retention()
        assert await voicemail_rows(stack, old["id"]) == [], run
        assert await partition_of(stack, old["id"]) == [], run
        assert await voicemail_rows(stack, kept["id"]) == kept_rows, run
        assert await partition_of(stack, kept["id"]), run
        listed = await listed_voicemails(stack)
        assert old["id"] not in listed and kept["id"] in listed, run


async def test_retention_from_two_processes_at_once_deletes_each_call_and_legs_row_once(stack, settings_changed):
    # Retention runs on day 30 keeping 7 days: the calls of days 0-5 go with their legs rows, that of day 29 stays.
    old = [await place(stack, settings_changed, n, events=12) for n in range(6)]
    kept = await place(stack, settings_changed, 29)
    kept_rows = await partition_of(stack, kept["id"])
    settings_changed(CALL_RETENTION_DAYS="7", CLOCK_OFFSET_SECONDS=str(30 * DAY))
    await run_retention_in_two_processes(stack, CALL_RETENTION_DAYS="7", CLOCK_OFFSET_SECONDS=str(30 * DAY))
    for call in old:
        assert await partition_of(stack, call["id"]) == [], call["id"]
        assert await legs_rows(stack, call) == [], call["id"]
    assert await partition_of(stack, kept["id"]) == kept_rows
    assert await legs_rows(stack, kept) == [(legs_partition(kept["correlationId"]), "legs")]


async def test_retention_from_two_processes_at_once_deletes_each_old_voicemail_once(stack, settings_changed):
    # As above, one day's retention 75 s short of a day ahead: calls begun 150 and 120 s ago go, one begun now stays.
    old = [await leave_voicemail(stack, settings_changed, f"+1425555092{n}", ago=ago)
           for n, ago in enumerate((150, 120))]
    kept = await leave_voicemail(stack, settings_changed, "+14255550929")
    kept_rows = await voicemail_rows(stack, kept["id"])
    await run_retention_in_two_processes(stack, CALL_RETENTION_DAYS="1", CLOCK_OFFSET_SECONDS=str(DAY - 75))
    for call in old:
        assert await voicemail_rows(stack, call["id"]) == [], call["id"]
        assert await partition_of(stack, call["id"]) == [], call["id"]
    assert await voicemail_rows(stack, kept["id"]) == kept_rows
    assert kept["id"] in await listed_voicemails(stack)


PURGED = re.compile(r"retention: deleted (\d+) calls \((\d+) rows\), (\d+) legs rows, (\d+) voicemails, (\d+) "
                    r"recording links older than [^;]+(; more are left for the next run)?$")


async def fill_legs_and_voicemails(connection_string: str, when: datetime, count: int, name: str) -> None:
    """`count` legs rows, voicemails and recording links of calls begun (and rows written) `when`, through the
    stores' own write methods."""
    legs = TableLegStore(TableCallStore(TableClient.from_connection_string(connection_string, "calls")))
    voicemails = TableVoicemailStore(TableClient.from_connection_string(connection_string, "voicemails"))
    gate = asyncio.Semaphore(32)

    async def one(n: int) -> None:
        async with gate:
            await legs.save(Legs(f"{name}-{n}", hops=1, targets=(TARGET,), updated_at=when), None)
            await voicemails.link(f"server-{name}-{n}", f"{name}-{n}", when)
            await voicemails.add({"callId": f"{name}-{n}", "from": "+14255550931", "to": MESSAGES,
                                  "recordingId": f"rec-{name}-{n}", "contentLocation": "http://127.0.0.1/x.wav"}, when)

    try:
        await one(0)  # the tables are made
        await asyncio.gather(*(one(n) for n in range(1, count)))
    finally:
        await legs._store.close()
        await voicemails.close()


async def stored_legs_and_voicemails(connection_string: str) -> tuple[int, int, int]:
    """How many legs rows, voicemails and recording links a Table service holds."""
    async with TableClient.from_connection_string(connection_string, "calls") as calls, \
            TableClient.from_connection_string(connection_string, "voicemails") as voicemails:
        legs = [e async for e in calls.query_entities("RowKey eq 'legs'", select=["RowKey"])]
        rows = [e["PartitionKey"] async for e in voicemails.list_entities(select=["PartitionKey"])]
    return len(legs), rows.count("list"), len(rows) - rows.count("list")


async def test_a_run_deletes_at_most_500_rows_of_each_kind_says_more_are_left_and_reads_no_kept_rows(
        stack, settings_changed, caplog):
    # On a Table service of its own behind a counting proxy: 501 legs rows, voicemails and recording links of 31
    # days ago, 50 of each of 29 days ago; retention keeps 30 days.
    per_run = retention.BATCH * retention.BATCHES
    now = datetime.now(timezone.utc)
    with Azurite() as fresh:
        await fill_legs_and_voicemails(fresh.connection_string, now - timedelta(days=31), per_run + 1, "old")
        await fill_legs_and_voicemails(fresh.connection_string, now - timedelta(days=29), 50, "new")
        assert await stored_legs_and_voicemails(fresh.connection_string) == (per_run + 51,) * 3
        proxy = await CountingProxy("tables", fresh.port).start()
        try:
            settings_changed(TABLES_CONNECTION_STRING=fresh.connection_string.replace(f":{fresh.port}/",
                                                                                     f":{proxy.port}/"),
                             CALL_RETENTION_DAYS="30", CLOCK_OFFSET_SECONDS="0")
            runs = []
            for _ in range(3):
                caplog.clear()
                before = proxy.requests
                with caplog.at_level(logging.INFO, logger="callsteer"):
                    await run_retention()
                [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retention: deleted")]
                assert "+1425" not in line and "old-" not in line, line
                purged = PURGED.fullmatch(line)
                assert purged, line
                runs.append((tuple(int(n) for n in purged.groups()[2:5]), bool(purged.group(6)),
                             proxy.requests - before, await stored_legs_and_voicemails(fresh.connection_string)))
        finally:
            await proxy.stop()
    (first, more_1, cost_1, left_1), (second, more_2, _, left_2), (third, more_3, cost_3, left_3) = runs
    assert (first, more_1, left_1) == ((per_run,) * 3, True, (51,) * 3), runs[0]
    assert (second, more_2, left_2) == ((1,) * 3, False, (50,) * 3), runs[1]
    assert (third, more_3, left_3) == ((0,) * 3, False, (50,) * 3), runs[2]
    # Per kind: at most BATCHES queries and deletes of BATCH rows, and a last query; the calls: one query.
    assert cost_1 <= 1 + 3 * (retention.BATCHES * (expiry.QUERY_REQUESTS + retention.BATCH) + expiry.QUERY_REQUESTS)
    # With nothing to delete, a query of each kind, whatever rows are kept.
    assert cost_3 <= 1 + 3 * expiry.QUERY_REQUESTS, runs[2]


def test_the_retention_setting_is_validated_by_name():
    from shared.config import load_settings
    from shared.errors import ConfigError

    base = {"ACS_ENDPOINT": "http://127.0.0.1:9", "CALLBACK_BASE_URL": "http://127.0.0.1:9",
            "CALLBACK_SECRET": "s" * 40, "ACS_CALLBACK_VERIFY_JWT": "false",
            "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "ROUTING_RULES": "{}"}
    assert load_settings(base).retention_days == 90
    assert load_settings({**base, "CALL_RETENTION_DAYS": "3650"}).retention_days == 3650
    for bad in ("0", "3651", "ninety", "1.5", "-3"):
        with pytest.raises(ConfigError, match="CALL_RETENTION_DAYS"):
            load_settings({**base, "CALL_RETENTION_DAYS": bad})
