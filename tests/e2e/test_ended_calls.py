"""A call that ended at ACS while the app missed its CallDisconnected: ACS's answers as the service gives them
(400/8501 or 404/8522 to actions, GetCall "disconnected" or 404), and the app reconciles the call as ended."""

from __future__ import annotations

import secrets

import pytest
from azure.communication.callautomation import CommunicationUserIdentifier
from azure.communication.callautomation.aio import CallAutomationClient
from azure.core.credentials import AzureKeyCredential

from tests.e2e.test_call_control import api
from tests.payloads import callback

pytestmark = pytest.mark.e2e

USER = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-00000000e7d1"
UNREACHABLE = "http://127.0.0.1:9/api/callbacks/nowhere"


@pytest.fixture
def ended_calls(stack):
    """Set how the emulator answers for ended calls for one test."""
    def use(answer: str) -> None:
        stack.emulator.ended_calls = answer
    yield use
    stack.emulator.ended_calls = "disconnected"


async def a_call_that_ended_unheard(stack) -> str:
    """A call the app saw connect, which then ended at ACS without the app hearing CallDisconnected."""
    async with CallAutomationClient(stack.emulator.url, AzureKeyCredential(stack.emulator.access_key)) as client:
        props = await client.create_call(CommunicationUserIdentifier(USER), UNREACHABLE)
        await stack.emulator.idle()
        body = callback("CallConnected", callConnectionId=props.call_connection_id, operationContext=None)
        body[0]["id"] = "connected-" + secrets.token_hex(8)
        status, _ = await stack.post(stack.callback_url("o" + secrets.token_hex(16)), body)
        assert status == 200
        await client.get_call_connection(props.call_connection_id).hang_up(is_for_everyone=True)
        await stack.emulator.idle()
    status, call = await stack.get(f"/api/calls/{props.call_connection_id}")
    assert status == 200 and call["state"] == "connected"
    return props.call_connection_id


@pytest.mark.parametrize("answer, acs_status, acs_code", [("disconnected", 400, "8501"), ("not-found", 404, "8522")])
async def test_an_action_on_a_call_acs_has_ended_gets_409_and_the_call_is_recorded_disconnected(
        stack, ended_calls, answer, acs_status, acs_code):
    ended_calls(answer)
    call_id = await a_call_that_ended_unheard(stack)

    status, problem, _ = await api(stack, "POST", f"/api/calls/{call_id}/participants", {"target": USER})

    assert status == 409 and problem["state"] == "disconnected", problem
    refused = [r for r in stack.emulator.requests if r["operation"].endswith("AddParticipant") and call_id in r["path"]]
    assert [r["status"] for r in refused] == [acs_status]
    assert stack.emulator.requests[-1]["operation"] == "CallConnection_GetCall"
    status, call = await stack.get(f"/api/calls/{call_id}")
    assert call["state"] == "disconnected" and call["endedAt"]
    assert call["events"][-1]["type"] == "Reconciled" and acs_code in call["events"][-1]["reason"]
    assert [o["status"] for o in call["operations"] if o["action"] == "addParticipant"] == ["failed"]
    # Later actions are refused by the app itself, without asking ACS.
    before = len(stack.emulator.requests)
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call_id}/hangup", {"forEveryone": True})
    assert status == 409 and problem["state"] == "disconnected" and len(stack.emulator.requests) == before


@pytest.mark.parametrize("answer", ["disconnected", "not-found"])
async def test_a_stale_call_is_reconciled_as_ended_whichever_way_get_call_answers(
        stack, ended_calls, settings_changed, answer):
    ended_calls(answer)
    call_id = await a_call_that_ended_unheard(stack)
    settings_changed(STALE_CALL_SECONDS="0")

    status, call = await stack.get(f"/api/calls/{call_id}")

    get_call = [r for r in stack.emulator.requests if r["operation"] == "CallConnection_GetCall" and call_id in r["path"]]
    assert [r["status"] for r in get_call] == [200 if answer == "disconnected" else 404]
    assert status == 200 and call["state"] == "disconnected"
    assert call["events"][-1]["type"] == "Reconciled"


async def test_an_action_refused_with_8501_on_a_call_acs_still_has_live_is_409_with_that_state(stack):
    # 8501 also fits a call that is not established yet: the app asks ACS and does not record it as ended.
    call_id = await a_live_call(stack)
    stack.emulator.inject_fault("AddParticipant", status=400, code="8501")

    status, problem, _ = await api(stack, "POST", f"/api/calls/{call_id}/participants", {"target": USER})

    assert status == 409 and problem["state"] == "connected", problem
    status, call = await stack.get(f"/api/calls/{call_id}")
    assert call["state"] == "connected"


async def a_live_call(stack) -> str:
    status, body, _ = await api(stack, "POST", "/api/calls", {"targets": [USER]})
    assert status == 201
    await stack.emulator.idle()
    return body["callConnectionId"]
