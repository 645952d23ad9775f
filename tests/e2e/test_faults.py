"""Faults end to end: ACS throttling and outages within the ringing call's budget, permanent errors, stale calls."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.test_call_control import api, settled
from tests.payloads import callback

pytestmark = pytest.mark.e2e


def answers_for(stack, event):
    return [r for r in stack.emulator.requests if r["operation"] == "AnswerCall"
            and (r.get("body") or {}).get("incomingCallContext") == event["data"]["incomingCallContext"]]


async def test_throttled_answers_are_retried_honouring_retry_after_and_act_once(stack):
    stack.emulator.inject_fault("AnswerCall", status=429, count=2, retry_after=0.05)
    event = await stack.ring(from_="+14255550201", to="+18005550100")
    attempts = answers_for(stack, event)
    assert [r["status"] for r in attempts] == [429, 429, 200]
    assert len({r["repeatability_id"] for r in attempts}) == 1
    assert (await stack.call_for(event))["state"] == "connected"


async def test_a_retry_after_beyond_the_budget_gives_up_at_once_and_asks_for_redelivery(stack):
    stack.emulator.inject_fault("AnswerCall", status=503, count=1, retry_after=120)
    event = stack.emulator.incoming_call(from_="+14255550202", to="+18005550100")
    started = time.monotonic()
    status = await stack.emulator.deliver_incoming_call(event)
    assert status == 500 and time.monotonic() - started < 5
    status, listing = await stack.get("/api/calls?limit=500")
    assert event["data"]["correlationId"] not in {c["correlationId"] for c in listing["calls"]}
    # Event Grid redelivers; the fault has passed; the same request (same repeatability id) now answers.
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    attempts = answers_for(stack, event)
    assert [r["status"] for r in attempts] == [503, 200] and attempts[0]["repeatability_id"] == attempts[1]["repeatability_id"]
    assert (await stack.call_for(event))["state"] == "connected"


async def test_an_outage_on_an_old_incoming_call_is_recorded_not_redelivered(stack):
    stack.emulator.inject_fault("RejectCall", status=500, count=20)
    event = stack.emulator.incoming_call(from_="+14255550203", to="+18005550102")
    event["eventTime"] = (datetime.now(timezone.utc) - timedelta(minutes=2)).isoformat()
    assert await stack.emulator.deliver_incoming_call(event) == 200
    stack.emulator.clear_faults()
    call = await stack.call_for(event)
    assert call["state"] == "failed" and call["error"]["status"] == 500
    assert call["operations"][0]["status"] == "failed"


async def test_a_permanent_acs_error_is_recorded_without_retries_or_redelivery(stack):
    event = stack.emulator.incoming_call(from_="+14255550204", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    # Another copy of the event, past ACS's memory of the first request: ACS says the call was handled.
    event = json.loads(json.dumps(event))
    event["id"] = event["id"] + "-copy"
    assert await stack.emulator.deliver_incoming_call(event) == 200
    attempts = answers_for(stack, event)
    assert [r["status"] for r in attempts][-1] == 400
    failed = [c for c in (await stack.get("/api/calls?limit=500"))[1]["calls"]
              if c["correlationId"] == event["data"]["correlationId"] and c["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]["status"] == 400


async def test_a_live_call_acs_no_longer_knows_is_reconciled_as_disconnected_when_read(stack, settings_changed):
    # A call the app heard connect, but whose CallDisconnected never arrived: ACS does not know it.
    call_key = "o" + "7" * 31
    body = callback("CallConnected", callConnectionId="5f0b9c1e-0000-4000-8000-00000000dead",
                    operationContext=None)
    body[0]["id"] = "stale-connected-1"
    status, _ = await stack.post(stack.callback_url(call_key), body)
    assert status == 200
    status, fresh = await stack.get("/api/calls/5f0b9c1e-0000-4000-8000-00000000dead")
    assert fresh["state"] == "connected"
    settings_changed(STALE_CALL_SECONDS="0")
    status, checked = await stack.get("/api/calls/5f0b9c1e-0000-4000-8000-00000000dead")
    assert status == 200 and checked["state"] == "disconnected" and checked["endedAt"]
    assert checked["events"][-1]["type"] == "Reconciled"


async def test_a_live_call_acs_still_knows_stays_connected_when_read(stack, settings_changed):
    status, body, _ = await api(stack, "POST", "/api/calls",
                                {"targets": ["8:acs:00000000-0000-0000-0000-000000000000_0000000005e1"]})
    await settled(stack, body["callConnectionId"])
    settings_changed(STALE_CALL_SECONDS="0")
    status, checked = await stack.get(f"/api/calls/{body['callConnectionId']}")
    assert checked["state"] == "connected"
    assert any(r["operation"].split("_")[-1] == "GetCall" and body["callConnectionId"] in r["path"]
               for r in stack.emulator.requests)
