"""ACS failing and throttling (429/500/503 with Retry-After) during incoming calls and control actions.

Faults are injected in the emulator; the count is what the emulator actually answered with the injected status.
Whatever happens, each call ends with one record whose outcome is known: the action done (retried through), or
recorded as failed with ACS's answer; no operation is left pending after its request returned an error.
"""

from __future__ import annotations

import pytest

from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, main_rows_for

pytestmark = pytest.mark.e2e

DECISIONS = ("AnswerCall", "RejectCall", "RedirectCall")


def injected(stack, since: int, operation: str, status: int) -> int:
    return sum(1 for r in stack.emulator.requests[since:] if r["operation"] == operation and r["status"] == status)


def effective(stack, event) -> list[dict]:
    context = event["data"]["incomingCallContext"]
    return [r for r in stack.emulator.requests if r["operation"] in DECISIONS and not r["replayed"]
            and r["status"] < 400 and (r["body"] or {}).get("incomingCallContext") == context]


@pytest.mark.parametrize("operation,to,status,state", [
    ("AnswerCall", "+18005550100", 503, "connected"),
    ("RejectCall", "+18005550102", 429, "rejected"),
    ("RedirectCall", "+18005550177", 500, "redirected"),
])
async def test_faults_the_sdk_retries_through_leave_one_action_and_one_record(stack, operation, to, status, state):
    since = len(stack.emulator.requests)
    stack.emulator.inject_fault(operation, status=status, count=2, retry_after=0.05)
    event = await stack.ring(from_="+14255550601", to=to)
    fig.bump(fig.ACS_FAULTS, injected(stack, since, operation, status))
    fig.bump(fig.CALLS)
    assert injected(stack, since, operation, status) == 2
    assert len(effective(stack, event)) == 1
    rows = await main_rows_for(stack, event["data"]["correlationId"])
    assert [r["state"] for r in rows] == [state]


async def test_a_non_retryable_refusal_is_recorded_as_failed_and_not_redelivered(stack):
    since = len(stack.emulator.requests)
    stack.emulator.inject_fault("RedirectCall", status=403, count=1, code="Forbidden")
    event = stack.emulator.incoming_call(from_="+14255550602", to="+18005550177")
    assert await stack.emulator.deliver_incoming_call(event) == 200  # nothing to gain from a redelivery
    fig.bump(fig.ACS_FAULTS, injected(stack, since, "RedirectCall", 403))
    fig.bump(fig.CALLS)
    [row] = await main_rows_for(stack, event["data"]["correlationId"])
    assert row["state"] == "failed" and '"status":403' in row["error"]


async def test_an_answer_failing_past_the_retries_then_redelivered_leaves_one_record(stack):
    since = len(stack.emulator.requests)
    stack.emulator.inject_fault("AnswerCall", status=503, count=4, retry_after=0.05)
    event = stack.emulator.incoming_call(from_="+14255550603", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 500  # Event Grid is asked to redeliver
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    fig.bump(fig.ACS_FAULTS, injected(stack, since, "AnswerCall", 503))
    fig.bump(fig.DUPLICATES)
    fig.bump(fig.CALLS)
    assert len(effective(stack, event)) == 1
    rows = await main_rows_for(stack, event["data"]["correlationId"])
    assert [r["state"] for r in rows] == ["connected"], [(r["PartitionKey"], r["state"]) for r in rows]


async def test_a_reject_throttled_past_the_retries_then_redelivered_is_recorded_rejected(stack):
    since = len(stack.emulator.requests)
    stack.emulator.inject_fault("RejectCall", status=429, count=4, retry_after=0.05)
    event = stack.emulator.incoming_call(from_="+19005550604", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 500
    assert await stack.emulator.deliver_incoming_call(event) == 200
    fig.bump(fig.ACS_FAULTS, injected(stack, since, "RejectCall", 429))
    fig.bump(fig.DUPLICATES)
    fig.bump(fig.CALLS)
    assert len(effective(stack, event)) == 1
    rows = await main_rows_for(stack, event["data"]["correlationId"])
    assert [(r["state"], r.get("error")) for r in rows] == [("rejected", None)]


@pytest.mark.parametrize("path,body,operation,status,answered", [
    ("participants", {"target": "8:acs:00000000-0000-0000-0000-000000000000_0000000000f1"},
     "CallConnection_AddParticipant", 503, 502),
    ("transfer", {"target": "+18005550199"}, "CallConnection_TransferToParticipant", 429, 429),
    ("hangup", {"forEveryone": True}, "CallConnection_TerminateCall", 500, 502),
])
async def test_a_control_action_failing_past_the_retries_is_recorded_failed_not_pending(stack, path, body, operation,
                                                                                       status, answered):
    call, _, _ = await answered_call(stack, "+14255550605")
    since = len(stack.emulator.requests)
    stack.emulator.inject_fault(operation, status=status, count=4, retry_after=0.05)
    _, before = await stack.get(f"/api/calls/{call['id']}")
    if path != "hangup":  # HangUp takes no operationContext: the app makes one
        body = {**body, "operationContext": f"fault-{path}"}
    code, problem = await stack.post(f"{stack.url}/api/calls/{call['id']}/{path}", body)
    fig.bump(fig.ACS_FAULTS, injected(stack, since, operation, status))
    fig.bump(fig.CALLS)
    assert code == answered and problem["acsStatus"] == status, problem
    _, now = await stack.get(f"/api/calls/{call['id']}")
    known = {o["operationContext"] for o in before["operations"]}
    [op] = [o for o in now["operations"] if o["operationContext"] not in known]
    assert op["status"] == "failed" and op["result"]["code"] == status, op
    assert now["state"] == "connected"
    assert not [o for o in now["operations"] if o["status"] == "pending" and o["source"] == "api"]
    stack.emulator.clear_faults()
