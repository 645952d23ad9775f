"""The same IncomingCall delivered again and again, at once, and from several OS processes: one answer, one record."""

from __future__ import annotations

import asyncio

import pytest

from tests.reliability import figures as fig
from tests.reliability.helpers import main_rows_for, run_workers

pytestmark = pytest.mark.e2e

DECISIONS = ("AnswerCall", "RejectCall", "RedirectCall")
# (caller, called number, the ACS operation the rules lead to)
CALLS = [
    ("+14255550301", "+18005550100", "AnswerCall"),
    ("+19005550302", "+18005550100", "RejectCall"),
    ("+14255550303", "+18005550177", "RedirectCall"),
    ("+14255550304", "+18005550178", "RedirectCall"),
    ("+14255550305", "+18005550102", "RejectCall"),
    ("+14255550306", "+18005550100", "AnswerCall"),
]


def decision_requests(stack, event):
    context = event["data"]["incomingCallContext"]
    return [r for r in stack.emulator.requests
            if r["operation"] in DECISIONS and (r["body"] or {}).get("incomingCallContext") == context]


async def assert_acted_once_and_recorded_once(stack, event, operation):
    await stack.emulator.idle()
    requests = decision_requests(stack, event)
    effective = [r for r in requests if not r["replayed"] and r["status"] < 400]
    assert [r["operation"] for r in effective] == [operation], requests
    # Every other copy repeated the very same request (same repeatability id), which the service answered once:
    # with the first answer again, or with 409 while the first was still being processed.
    assert {r["repeatability_id"] for r in requests} == {effective[0]["repeatability_id"]}
    assert all(r["replayed"] or r["status"] == 409 for r in requests if r is not effective[0]), requests
    rows = await main_rows_for(stack, event["data"]["correlationId"])
    if len(rows) != 1 or rows[0]["state"] not in ("connecting", "connected", "rejected", "redirected"):
        fig.bump(fig.LOST)
    assert len(rows) == 1, rows
    assert rows[0]["state"] in ("connecting", "connected", "rejected", "redirected")


async def test_an_incoming_call_delivered_again_and_again_is_acted_on_once(stack):
    for caller, to, operation in CALLS[:3]:
        event = stack.emulator.incoming_call(from_=caller, to=to)
        for _ in range(4):
            assert await stack.emulator.deliver_incoming_call(event) == 200
        fig.bump(fig.CALLS)
        fig.bump(fig.DUPLICATES, 3)
        await assert_acted_once_and_recorded_once(stack, event, operation)


async def test_copies_of_an_incoming_call_racing_in_one_process_are_acted_on_once(stack):
    events = [(stack.emulator.incoming_call(from_=caller, to=to), operation) for caller, to, operation in CALLS]
    statuses = await asyncio.gather(*(stack.emulator.deliver_incoming_call(event)
                                      for event, _ in events for _ in range(3)))
    assert set(statuses) == {200}
    fig.bump(fig.CALLS, len(events))
    fig.bump(fig.DUPLICATES, 2 * len(events))
    for event, operation in events:
        await assert_acted_once_and_recorded_once(stack, event, operation)


async def test_copies_of_an_incoming_call_racing_in_several_processes_are_acted_on_once(stack):
    events = [(stack.emulator.incoming_call(from_=caller.replace("555503", "555504"), to=to), operation)
              for caller, to, operation in CALLS]
    processes, copies = 3, 2
    results = await run_workers(stack, [{"mode": "incoming", "events": [e for e, _ in events], "copies": copies}
                                        for _ in range(processes)])
    deliveries = [r for worker in results for r in worker["results"]]
    assert len(deliveries) == processes * copies * len(events)
    assert all(d["ok"] for d in deliveries), [d for d in deliveries if not d["ok"]]
    assert len({worker["pid"] for worker in results}) == processes
    fig.bump(fig.CALLS, len(events))
    fig.bump(fig.DUPLICATES, (processes * copies - 1) * len(events))
    fig.bump(fig.WRITERS, processes)
    for event, operation in events:
        await assert_acted_once_and_recorded_once(stack, event, operation)
