"""Shared helpers of the reliability and bad-input suites: the stack's settings kept in force, calls placed through
the emulator, callback payloads, direct reads of the calls table, and OS worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from typing import Any

from azure.data.tables.aio import TableClient

# The autouse fixture that puts this test's stack's settings in force lives with the stack (tests/e2e/conftest.py).
from tests.e2e.conftest import own_stack_settings  # noqa: F401
from tests.payloads import callback

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACS = "Microsoft.Communication."


# ---- calls and events ----------------------------------------------------------------------------------------


async def answered_call(stack, caller: str, to: str = "+18005550100") -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Ring a call the rules answer; return the stored call, its callback call key and the IncomingCall event."""
    event = await stack.ring(from_=caller, to=to)
    answers = [r for r in stack.emulator.requests if r["operation"] == "AnswerCall" and r["status"] < 400
               and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    call_key = answers[0]["body"]["callbackUri"].rstrip("/").split("/")[-2]
    status, call = await stack.get(f"/api/calls/{_connection(stack, event)}")
    assert status == 200, call
    return call, call_key, event


def _connection(stack, event: dict[str, Any]) -> str:
    """The call connection the emulator made for an incoming call (by its correlation id)."""
    correlation = event["data"]["correlationId"]
    return next(c.id for c in stack.emulator.calls.values() if c.correlation_id == correlation)


def cloud_event(name: str, call: dict[str, Any], event_id: str | None = None, **data: Any) -> dict[str, Any]:
    """One callback CloudEvent for a stored call; unknown names (PlayCompleted, ...) reuse the PlayCompleted shape."""
    try:
        body = callback(name, callConnectionId=call["callConnectionId"], correlationId=call["correlationId"], **data)
    except FileNotFoundError:
        body = callback("PlayCompleted", callConnectionId=call["callConnectionId"],
                        correlationId=call["correlationId"], **data)
        body[0]["type"] = ACS + name
        body[0]["data"]["publicEventType"] = ACS + name
    event = body[0]
    event["id"] = event_id or f"{name}-{uuid.uuid4()}"
    return event


def participants_updated(call: dict[str, Any], seq: int, raw_ids: list[str], event_id: str | None = None
                         ) -> dict[str, Any]:
    models = []
    for raw in raw_ids:
        kind = "phoneNumber" if raw.startswith("4:") else "communicationUser"
        models.append({"identifier": {"kind": kind, "rawId": raw}, "isMuted": False, "isOnHold": False})
    return cloud_event("ParticipantsUpdated", call, event_id or f"pu-{seq}-{uuid.uuid4()}", sequenceNumber=seq,
                       participants=models)


# ---- the calls table, read directly ----------------------------------------------------------------------------


def table(stack) -> TableClient:
    return TableClient.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"], "calls")


async def rows(stack, query: str = "", **params: Any) -> list[dict[str, Any]]:
    async with table(stack) as client:
        if query:
            pager = client.query_entities(query, parameters=params)
        else:
            pager = client.list_entities()
        return [dict(e) | {"_etag": e.metadata["etag"]} async for e in pager]


async def main_rows_for(stack, correlation_id: str) -> list[dict[str, Any]]:
    """Every main row recorded for a correlation id: one call must be one row."""
    return await rows(stack, "RowKey eq 'call' and correlationId eq @c", c=correlation_id)


async def snapshot(stack) -> dict[tuple[str, str], str]:
    """Every row of the calls table with its ETag, once the emulator has nothing in flight."""
    await stack.emulator.idle()
    return {(r["PartitionKey"], r["RowKey"]): r["_etag"] for r in await rows(stack)}


def diff(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> dict[str, list[Any]]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k])}


# ---- OS worker processes ---------------------------------------------------------------------------------------


async def run_workers(stack, jobs: list[dict[str, Any]], timeout: float = 90) -> list[dict[str, Any]]:
    """Run one tests/reliability/worker.py process per job against the stack's Azurite and emulator.

    Every worker builds the app's services from the settings alone, says "ready", and starts only when all are
    ready, so their work overlaps. The parent's event loop keeps serving the emulator and the local host meanwhile.
    """
    env = {**os.environ, **stack.settings, "PYTHONPATH": PROJECT_ROOT}
    logs = [tempfile.TemporaryFile() for _ in jobs]  # a file, not a pipe: a chatty worker never blocks on it
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reliability.worker", cwd=PROJECT_ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log) for log in logs]

    def stderr_of(index: int) -> str:
        logs[index].seek(0)
        return logs[index].read().decode(errors="replace")[-3000:]

    try:
        for proc, job in zip(procs, jobs):
            proc.stdin.write(json.dumps(job).encode() + b"\n")
            await proc.stdin.drain()
        for index, proc in enumerate(procs):
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            if line.strip() != b"ready":
                await proc.wait()
                raise AssertionError(f"worker did not start: {line!r} {stderr_of(index)}")
        for proc in procs:
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        results = []
        for index, proc in enumerate(procs):
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
            if proc.returncode != 0:
                raise AssertionError(f"worker failed ({proc.returncode}): {stderr_of(index)}")
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for log in logs:
            log.close()
