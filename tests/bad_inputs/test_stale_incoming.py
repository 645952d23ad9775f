"""A stale or replayed IncomingCall gets no action: past the ring window (or too far ahead of the app's clock) it is
logged and nothing is sent to ACS or stored; inside the window it is acted on as usual. Through the registered
incoming_call function, the emulator's Event Grid delivery and Azurite."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.events import MAX_CLOCK_AHEAD, RING_WINDOW
from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, diff, snapshot

pytestmark = pytest.mark.e2e


def at(offset: timedelta) -> str:
    return (datetime.now(timezone.utc) + offset).isoformat()


@pytest.mark.parametrize("offset", [-RING_WINDOW - timedelta(seconds=30), -timedelta(days=365 * 56),
                                    MAX_CLOCK_AHEAD + timedelta(seconds=60)])
async def test_an_incoming_call_outside_the_ring_window_is_logged_and_gets_no_action(stack, caplog, offset):
    caplog.set_level(logging.INFO, logger="callsteer")
    await answered_call(stack, "+14255550960")  # the calls table exists, with a call the stale event must not touch
    before, sent = await snapshot(stack), len(stack.emulator.requests)
    event = stack.emulator.incoming_call(from_="+14255550961", to="+18005550100")
    event["eventTime"] = at(offset)
    assert await stack.emulator.deliver_incoming_call(event) == 200
    fig.bump(fig.BAD_INPUTS)
    assert len(stack.emulator.requests) == sent
    assert not any(diff(before, await snapshot(stack)).values())
    assert "gets no action" in caplog.text and event["data"]["correlationId"] in caplog.text


@pytest.mark.parametrize("offset", [-RING_WINDOW + timedelta(seconds=30), -timedelta(seconds=40), timedelta(seconds=20)])
async def test_an_incoming_call_inside_the_ring_window_is_acted_on(stack, offset):
    event = stack.emulator.incoming_call(from_="+14255550962", to="+18005550100")
    event["eventTime"] = at(offset)
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    answers = [r for r in stack.emulator.requests if r["operation"] == "AnswerCall"
               and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert answers and answers[-1]["status"] < 400
    assert (await stack.call_for(event))["state"] == "connected"
