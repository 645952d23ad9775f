"""The /emulator/* HTTP controls mirror the Python API, and the command line serves until told to stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.core.exceptions import HttpResponseError

from devtools.emulator import DEFAULT_ACCESS_KEY

REPO = Path(__file__).resolve().parents[2]
AGENT = "+14255550199"


async def _call(emu, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, emu.url + path, json=body) as response:
            text = await response.text()
            return response.status, dict(response.headers), json.loads(text) if text else None


@pytest.mark.asyncio
async def test_an_incoming_call_posted_over_http_is_delivered_and_can_be_answered(emu, client, receiver):
    status, headers, event = await _call(emu, "POST", "/emulator/incoming-calls?deliver=true",
                                         {"from": "+14255550123", "to": "+18005550100", "callerDisplayName": "Ada"})

    assert status == 201
    assert headers["X-Emulator-Delivery-Status"] == "200"
    assert receiver.received[0].body == [event]
    result = await client.answer_call(event["data"]["incomingCallContext"], receiver.callback_url())
    assert result.call_connection_id


@pytest.mark.asyncio
async def test_an_incoming_call_can_be_registered_without_delivery(emu, receiver):
    status, headers, event = await _call(emu, "POST", "/emulator/incoming-calls?deliver=false", {"from": "8:acs:x"})

    assert status == 201 and "X-Emulator-Delivery-Status" not in headers
    assert event["data"]["from"]["kind"] == "communicationUser"
    assert receiver.received == []


@pytest.mark.asyncio
async def test_targets_faults_and_hang_ups_can_be_scripted_over_http(emu, client, receiver, answered):
    call_id = await answered()
    assert (await _call(emu, "PUT", "/emulator/targets/4:%2B14255550199", {"outcome": "busy"}))[0] == 204
    assert (await _call(emu, "POST", "/emulator/faults",
                        {"operation": "CallConnection_GetCall", "status": 400, "code": "Scripted"}))[0] == 204

    await client.get_call_connection(call_id).add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    with pytest.raises(HttpResponseError) as faulted:
        await client.get_call_connection(call_id).get_call_properties()
    assert (await _call(emu, "POST", f"/emulator/calls/{call_id}/hang-up", {}))[0] == 204
    assert (await _call(emu, "POST", "/emulator/idle?timeout=5"))[0] == 204

    assert faulted.value.error.code == "Scripted"
    assert receiver.types(call_id)[-2:] == ["AddParticipantFailed", "CallDisconnected"]


@pytest.mark.asyncio
async def test_requests_callbacks_and_calls_can_be_read_over_http(emu, answered):
    call_id = await answered()

    _, _, requests = await _call(emu, "GET", "/emulator/requests")
    _, _, callbacks = await _call(emu, "GET", "/emulator/callbacks")
    _, _, call = await _call(emu, "GET", f"/emulator/calls/{call_id}")
    _, _, calls = await _call(emu, "GET", "/emulator/calls")
    missing, _, _ = await _call(emu, "GET", "/emulator/calls/nope")

    assert [r["operation"] for r in requests] == ["AnswerCall"]
    assert [c["type"] for c in callbacks] == ["CallConnected", "ParticipantsUpdated"]
    assert call["callConnectionState"] == "connected" and call["sequenceNumber"] == 1
    assert calls["incomingCalls"][0]["state"] == "answered"
    assert "incomingCallContext" not in json.dumps(calls)
    assert missing == 404


@pytest.mark.asyncio
async def test_a_defective_callback_token_can_be_minted_over_http(emu, verify_token):
    _, _, minted = await _call(emu, "POST", "/emulator/callback-tokens", {"aud": "wrong"})

    with pytest.raises(jwt.InvalidAudienceError):
        await verify_token(minted["token"])


@pytest.mark.asyncio
async def test_bad_control_input_is_a_400(emu):
    status, _, error = await _call(emu, "PUT", "/emulator/targets/4:%2B1", {"outcome": "maybe"})

    assert status == 400 and error["error"]["message"]


@pytest.mark.asyncio
async def test_the_command_line_prints_its_url_and_key_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devtools.emulator", "--port", "0", "--app-url", "http://127.0.0.1:9",
        "--time-scale", "0.5", cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        assert f"access_key={DEFAULT_ACCESS_KEY}" in line
        url = line.split()[3]
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/calling/keys") as response:
                assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
