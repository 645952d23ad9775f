"""Table Storage busy (503) or unreachable while calls come in and callbacks arrive: nothing is lost.

The app's settings point at a proxy in front of Azurite that fails the next N requests on demand. A callback that
meets a storage fault answers 503, the emulator retries it (as ACS retries 5xx) and, once storage answers again,
the event is in the log exactly once. An IncomingCall whose record cannot be written asks for redelivery, and the
redelivery records it once without acting twice. The count is what the proxy actually failed.
"""

from __future__ import annotations

import re
from typing import AsyncIterator

import pytest
import pytest_asyncio

from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, main_rows_for
from tests.reliability.storage_proxy import StorageProxy

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def proxy(stack, settings_changed) -> AsyncIterator[StorageProxy]:
    origin = re.search(r"TableEndpoint=(http://[^/;]+)", stack.settings["TABLES_CONNECTION_STRING"]).group(1)
    running = StorageProxy(origin)
    await running.start()
    settings_changed(TABLES_CONNECTION_STRING=running.connection_string)
    try:
        yield running
    finally:
        await stack.emulator.idle()
        fig.bump(fig.STORAGE_FAULTS, running.injected)
        await running.stop()


def delivered(stack, connection_id: str, event_type: str) -> dict:
    [record] = [c for c in stack.emulator.callbacks if c["call_connection_id"] == connection_id
                and c["type"] == event_type]
    return record


@pytest.mark.parametrize("mode,count", [("503", 4), ("drop", 6)])
async def test_a_callback_meeting_a_storage_fault_is_retried_and_not_lost(stack, proxy, mode, count):
    call, _, _ = await answered_call(stack, "+14255550701")
    proxy.fail(count, mode)
    stack.emulator.hang_up(call["id"])
    await stack.emulator.idle()
    assert proxy.injected == count and proxy.remaining == 0
    record = delivered(stack, call["id"], "CallDisconnected")
    assert record["status"] == 200 and record["attempts"] >= 2, record
    fig.bump(fig.CALLS)
    _, now = await stack.get(f"/api/calls/{call['id']}")
    logged = [e["id"] for e in now["events"]].count(record["event"]["id"])
    fig.bump(fig.LOST, abs(logged - 1) + (now["state"] != "disconnected"))
    assert logged == 1 and now["state"] == "disconnected"


async def test_a_callback_transaction_refused_by_storage_is_retried_whole(stack, proxy):
    call, key, _ = await answered_call(stack, "+14255550702")
    proxy.fail(3, "503", only=lambda method, path, body: path.endswith("$batch"))
    event = cloud_event("PlayCompleted", call)
    status, problem = await stack.post(stack.callback_url(key), [event])
    assert status == 503 and problem["title"] == "Storage unavailable"
    _, between = await stack.get(f"/api/calls/{call['id']}")
    assert event["id"] not in [e["id"] for e in between["events"]], "nothing is written half-way"
    assert await stack.post(stack.callback_url(key), [event]) == (200, {"applied": 1, "duplicates": 0})
    _, now = await stack.get(f"/api/calls/{call['id']}")
    fig.bump(fig.CALLS)
    fig.bump(fig.LOST, abs([e["id"] for e in now["events"]].count(event["id"]) - 1))
    assert [e["id"] for e in now["events"]].count(event["id"]) == 1


async def test_an_incoming_call_whose_record_fails_is_redelivered_and_recorded_once(stack, proxy):
    # The insert of the decision (POST .../calls) fails past the storage client's retries.
    proxy.fail(3, "503", only=lambda method, path, body: method == "POST" and path.endswith("/calls"))
    event = stack.emulator.incoming_call(from_="+19005550703", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 500  # Event Grid is asked to redeliver
    assert await stack.emulator.deliver_incoming_call(event) == 200
    fig.bump(fig.CALLS)
    fig.bump(fig.DUPLICATES)
    requests = [r for r in stack.emulator.requests if r["operation"] == "RejectCall"
                and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert [r["replayed"] for r in requests] == [False, True]
    rows = await main_rows_for(stack, event["data"]["correlationId"])
    fig.bump(fig.LOST, abs(len(rows) - 1))
    assert [r["state"] for r in rows] == ["rejected"]


async def test_a_control_action_meeting_a_storage_fault_sends_nothing_and_says_retry(stack, proxy):
    call, _, _ = await answered_call(stack, "+14255550704")
    since = len(stack.emulator.requests)
    proxy.fail(3, "503")
    status, problem = await stack.post(f"{stack.url}/api/calls/{call['id']}/participants",
                                       {"target": "8:acs:00000000-0000-0000-0000-000000000000_0000000000f2"})
    assert status == 503 and problem["title"] == "Storage unavailable"
    assert not [r for r in stack.emulator.requests[since:] if r["operation"] == "CallConnection_AddParticipant"]
    _, now = await stack.get(f"/api/calls/{call['id']}")
    assert now["operations"] == call["operations"]
    fig.bump(fig.CALLS)


async def test_a_lost_storage_answer_does_not_lose_the_follow_up(stack, proxy):
    since = len(stack.emulator.requests)
    # The transaction applying CallConnected (and recording the plan's transfer as pending) reaches Azurite, but its
    # answer never comes back. It is held back a little first, so that the decision's insert is always in before it.
    proxy.fail(1, "lose-answer", only=lambda method, path, body: path.endswith("$batch") and b"CallConnected" in body,
               delay=0.3)
    event = await stack.ring(from_="+14255550705", to="+18005550125")  # rule straight-transfer
    await stack.emulator.idle()
    fig.bump(fig.CALLS)
    assert proxy.injected == 1
    [row] = await main_rows_for(stack, event["data"]["correlationId"])
    transfers = [r for r in stack.emulator.requests[since:] if r["operation"] == "CallConnection_TransferToParticipant"]
    _, now = await stack.get(f"/api/calls/{row['PartitionKey']}")
    pending = [o for o in now["operations"] if o["status"] == "pending"]
    lost = int(not transfers) + len(pending)
    fig.bump(fig.LOST, lost)
    assert transfers and not pending, (now["state"], now["operations"])
    assert now["state"] == "transferred"
