"""Retention deletes every row of the calls older than CALL_RETENTION_DAYS, and nothing else: calls are placed at
chosen times by moving the app's clock (CLOCK_OFFSET_SECONDS, a setting), then the registered `retention` timer
function runs, twice in a row, and from two OS processes at once."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from azure.functions.timer import TimerRequest
import pytest

import function_app
from devtools.host import timer_functions
from shared.adapters import call_rows
from tests.reliability.helpers import PROJECT_ROOT, cloud_event, rows

pytestmark = pytest.mark.e2e
DAY = 86_400
TARGET = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-00000000c0de"


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


async def run_retention() -> None:
    await timer_functions(function_app.app)["retention"].call(timer=TimerRequest(past_due=False))


async def test_retention_deletes_every_row_of_old_calls_and_nothing_else_twice_in_a_row(stack, settings_changed):
    # Retention runs on day 10 keeping 3 days: the calls of days 0 and 6 go, those of days 8 and 10 stay.
    old = [await place(stack, settings_changed, 0, events=30), await place(stack, settings_changed, 6)]
    kept = [await place(stack, settings_changed, 8), await place(stack, settings_changed, 10)]
    for call in old:
        assert len(await partition_of(stack, call["id"])) >= 2
    assert len(await partition_of(stack, old[0]["id"])) > 3, "the long call has log pages of its own"
    kept_rows = {c["id"]: await partition_of(stack, c["id"]) for c in kept}

    settings_changed(CALL_RETENTION_DAYS="3", CLOCK_OFFSET_SECONDS=str(10 * DAY))
    for run in (1, 2):
        await run_retention()
        for call in old:
            assert await partition_of(stack, call["id"]) == [], (run, call["id"])
            assert (await stack.get(f"/api/calls/{call['id']}"))[0] == 404
        for call in kept:
            assert await partition_of(stack, call["id"]) == kept_rows[call["id"]], run
            assert (await stack.get(f"/api/calls/{call['id']}"))[0] == 200
    _, page = await stack.get("/api/calls?limit=500&direction=outbound")
    listed = {c["id"] for c in page["calls"]}
    assert not listed & {c["id"] for c in old} and {c["id"] for c in kept} <= listed


async def test_retention_from_two_processes_at_once_deletes_each_call_once(stack, settings_changed):
    # Retention runs on day 30 keeping 7 days: the calls of days 0-5 go, that of day 29 stays.
    old = [await place(stack, settings_changed, n, events=12) for n in range(6)]
    kept = await place(stack, settings_changed, 29)
    kept_rows = await partition_of(stack, kept["id"])
    settings_changed(CALL_RETENTION_DAYS="7", CLOCK_OFFSET_SECONDS=str(30 * DAY))
    env = {**os.environ, **stack.settings, "CALL_RETENTION_DAYS": "7", "CLOCK_OFFSET_SECONDS": str(30 * DAY),
           "PYTHONPATH": PROJECT_ROOT}
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
    for call in old:
        assert await partition_of(stack, call["id"]) == [], call["id"]
    assert await partition_of(stack, kept["id"]) == kept_rows


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
