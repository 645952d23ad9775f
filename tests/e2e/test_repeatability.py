"""Repeatable requests as ACS documents them: v4-format ids, 409 while a repeat's original is in progress, the same
decision (and so the same body) on every redelivery, no re-send past the 5-minute window."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.e2e


def decision_requests(stack, event):
    context = event["data"]["incomingCallContext"]
    return [r for r in stack.emulator.requests
            if r["operation"] in ("AnswerCall", "RejectCall", "RedirectCall")
            and (r["body"] or {}).get("incomingCallContext") == context]


async def test_every_repeatability_id_the_app_sends_has_the_version_4_uuid_form(stack):
    event = await stack.ring(from_="+14255550401", to="+18005550100")
    call = await stack.call_for(event)
    status, _ = await stack.post(f"{stack.url}/api/calls/{call['id']}/hangup", {"forEveryone": True})
    assert status == 202
    await stack.emulator.idle()
    ids = [r["repeatability_id"] for r in stack.emulator.requests if r["repeatability_id"]]
    assert ids
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == request_id


async def test_concurrent_deliveries_against_409_on_repeat_leave_one_call_not_failed(stack):
    stack.emulator.latency_ms = 300  # the first answer is being processed while the copies arrive
    try:
        event = stack.emulator.incoming_call(from_="+14255550402", to="+18005550100")
        statuses = await asyncio.gather(*(stack.emulator.deliver_incoming_call(event) for _ in range(4)))
    finally:
        stack.emulator.latency_ms = 0
    await stack.emulator.idle()
    assert statuses == [200, 200, 200, 200]
    requests = decision_requests(stack, event)
    assert sorted(r["status"] for r in requests) == [200, 409, 409, 409], requests
    assert len({r["repeatability_id"] for r in requests}) == 1
    status, listing = await stack.get("/api/calls?limit=500")
    mine = [c for c in listing["calls"] if c["correlationId"] == event["data"]["correlationId"]]
    assert [c["state"] for c in mine] == ["connected"], mine
    assert all(op["status"] != "failed" for op in mine[0]["operations"])


async def test_a_time_window_rule_decides_at_the_events_time_so_a_late_redelivery_decides_the_same(
        stack, settings_changed):
    now = datetime.now(timezone.utc)
    if now.second < 3:  # keep the event inside the window's last minute, before its end
        await asyncio.sleep(3 - now.second)
        now = datetime.now(timezone.utc)
    end = now.replace(second=0, microsecond=0)
    rules = {"rules": [{"name": "office-hours", "match": {"to": ["+18005550100"], "within": {
        "timezone": "UTC", "start": (end - timedelta(hours=1)).strftime("%H:%M"), "end": end.strftime("%H:%M")}},
        "action": "answer"}], "default": {"action": "reject", "reason": "busy"}}
    settings_changed(ROUTING_RULES=json.dumps(rules))
    event = stack.emulator.incoming_call(from_="+14255550403", to="+18005550100")
    event["eventTime"] = (end - timedelta(seconds=2)).isoformat()  # rang inside the window; delivered after it

    assert await stack.emulator.deliver_incoming_call(event) == 200
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()

    requests = decision_requests(stack, event)
    assert [r["operation"] for r in requests] == ["AnswerCall", "AnswerCall"]
    assert requests[0]["body"] == requests[1]["body"] and requests[1]["replayed"]
    call = await stack.call_for(event)
    assert call["decision"]["rule"] == "office-hours" and call["state"] == "connected"
