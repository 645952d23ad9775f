"""At each documented limit a callback is accepted and stored whole (the limits keep a call within Table Storage's),
and one past it is refused with a 4xx naming the limit, through the registered functions, the emulator and Azurite."""

from __future__ import annotations

import uuid

import pytest

from shared.domain.events import MAX_EVENTS_PER_BODY, MAX_MESSAGE, MAX_PARTICIPANTS, MAX_SEQUENCE_NUMBER
from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, participants_updated

pytestmark = pytest.mark.e2e


async def test_a_callback_at_every_limit_is_stored_whole_and_one_past_it_is_refused(stack):
    call, key, _ = await answered_call(stack, "+14255550931")
    fig.bump(fig.CALLS)
    url = stack.callback_url(key)
    ids = [f"8:acs:00000000-0000-0000-0000-000000000000_{uuid.uuid4()}" for _ in range(MAX_PARTICIPANTS)]
    status, body = await stack.post(url, [participants_updated(call, MAX_SEQUENCE_NUMBER, ids)])
    assert status == 200, body
    message = "m" * MAX_MESSAGE
    status, body = await stack.post(url, [cloud_event("PlayCompleted", call, resultInformation={
        "code": 200, "subCode": 2**31 - 1, "message": message})])
    assert status == 200, body
    many = [cloud_event("PlayCompleted", call) for _ in range(MAX_EVENTS_PER_BODY)]
    status, body = await stack.post(url, many)
    assert status == 200 and body["applied"] == MAX_EVENTS_PER_BODY, body

    status, stored = await stack.get(f"/api/calls/{call['id']}")
    assert status == 200
    assert stored["participants"] == ids
    assert any(e.get("resultInformation", {}).get("message") == message for e in stored["events"])
    assert len(stored["events"]) >= MAX_EVENTS_PER_BODY + 2

    fig.bump(fig.BAD_INPUTS, 3)
    status, problem = await stack.post(url, [participants_updated(call, 1, ids + ["8:acs:one-more"])])
    assert status == 400 and f"limit is {MAX_PARTICIPANTS}" in problem["detail"], problem
    status, problem = await stack.post(url, many + [cloud_event("PlayCompleted", call)])
    assert status == 413 and f"limit is {MAX_EVENTS_PER_BODY}" in problem["detail"], problem
    status, problem = await stack.post(url, [cloud_event("PlayCompleted", call, resultInformation={
        "code": 200, "message": message + "m"})])
    assert status == 400 and problem["field"] == "[0].data.resultInformation.message", problem
    status, after = await stack.get(f"/api/calls/{call['id']}")
    assert len(after["events"]) == len(stored["events"]) and after["participants"] == ids
