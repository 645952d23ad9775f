"""Repeatable requests act once; injected faults, Retry-After, latency and time_scale behave as documented."""

from __future__ import annotations

import asyncio
import time
import uuid
from email.utils import formatdate

import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.communication.callautomation.aio import CallAutomationClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

ANSWER = "/calling/callConnections:answer?api-version=2026-03-12"
AGENT = "+14255550199"


def _repeatable(request_id: str) -> dict[str, str]:
    return {"Repeatability-Request-ID": request_id, "Repeatability-First-Sent": formatdate(usegmt=True)}


@pytest.mark.asyncio
async def test_a_repeated_request_id_returns_the_first_response_and_answers_once(emu, receiver, raw):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}
    request_id = str(uuid.uuid4())

    first = await raw("POST", ANSWER, body, headers=_repeatable(request_id))
    second = await raw("POST", ANSWER, body, headers=_repeatable(request_id))
    await emu.idle()

    assert first[0] == second[0] == 200
    assert first[2] == second[2]
    assert len(emu.calls) == 1
    assert receiver.types() == ["CallConnected", "ParticipantsUpdated"]
    assert [r["replayed"] for r in emu.requests] == [False, True]


@pytest.mark.asyncio
async def test_repeats_while_the_first_request_is_processed_get_409_and_it_acts_once(emu, receiver, raw):
    emu.latency_ms = 200  # the first request is being processed this long
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}
    headers = _repeatable(str(uuid.uuid4()))

    first = asyncio.create_task(raw("POST", ANSWER, body, headers=headers))
    while not emu.requests:
        await asyncio.sleep(0.001)
    repeats = await asyncio.gather(*(raw("POST", ANSWER, body, headers=headers) for _ in range(3)))
    original = await first
    emu.latency_ms = 0
    after = await raw("POST", ANSWER, body, headers=headers)
    await emu.idle()

    assert original[0] == 200
    assert [status for status, _, _ in repeats] == [409, 409, 409]
    assert after[0] == 200 and after[2] == original[2]
    assert receiver.types().count("CallConnected") == 1


@pytest.mark.asyncio
async def test_a_repeat_with_a_different_body_is_refused_with_400_and_changes_nothing(emu, receiver, raw):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}
    headers = _repeatable(str(uuid.uuid4()))

    first = await raw("POST", ANSWER, body, headers=headers)
    other = await raw("POST", ANSWER, {**body, "operationContext": "changed"}, headers=headers)
    await emu.idle()

    assert (first[0], other[0]) == (200, 400)
    assert "does not match" in other[2]["error"]["message"]
    assert receiver.types().count("CallConnected") == 1


@pytest.mark.asyncio
async def test_a_first_sent_older_than_five_minutes_is_refused_with_412_and_nothing_happens(emu, receiver, raw):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}
    stale = {"Repeatability-Request-ID": str(uuid.uuid4()),
             "Repeatability-First-Sent": formatdate(time.time() - 301, usegmt=True)}
    recent = {"Repeatability-Request-ID": str(uuid.uuid4()),
              "Repeatability-First-Sent": formatdate(time.time() - 280, usegmt=True)}

    refused = await raw("POST", ANSWER, body, headers=stale)
    accepted = await raw("POST", ANSWER, body, headers=recent)

    assert refused[0] == 412
    assert accepted[0] == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("request_id, first_sent", [
    ("not-a-uuid", formatdate(usegmt=True)),
    (str(uuid.uuid5(uuid.NAMESPACE_URL, "x")), formatdate(usegmt=True)),  # a UUID, but version 5
    (str(uuid.uuid4()), "yesterday"),
])
async def test_a_malformed_request_id_or_first_sent_is_refused_with_400(emu, receiver, raw, request_id, first_sent):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}

    status, _, _ = await raw("POST", ANSWER, body,
                             headers={"Repeatability-Request-ID": request_id, "Repeatability-First-Sent": first_sent})

    assert status == 400
    assert emu.incoming_calls[0]["state"] == "waiting"


@pytest.mark.asyncio
async def test_the_sdk_with_an_app_chosen_request_id_adds_a_participant_once(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    request_id = str(uuid.uuid4())

    first = await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"),
                                             headers={"Repeatability-Request-ID": request_id})
    again = await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"),
                                             headers={"Repeatability-Request-ID": request_id})
    await emu.idle()

    assert first.invitation_id == again.invitation_id
    assert receiver.types(call_id).count("AddParticipantSucceeded") == 1
    assert emu.requests[-1]["repeatability_id"] == request_id


@pytest.mark.asyncio
async def test_a_different_request_id_is_a_new_request(emu, receiver, raw):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}

    first = await raw("POST", ANSWER, body, headers=_repeatable(str(uuid.uuid4())))
    second = await raw("POST", ANSWER, body, headers=_repeatable(str(uuid.uuid4())))

    assert (first[0], second[0]) == (200, 400)
    assert second[2]["error"]["code"] == "IncomingCallAlreadyHandled"


@pytest.mark.asyncio
async def test_a_request_id_without_first_sent_is_refused_with_400(emu, receiver, raw):
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}

    status, _, _ = await raw("POST", ANSWER, body, headers={"Repeatability-Request-ID": str(uuid.uuid4())})

    assert status == 400


@pytest.mark.asyncio
async def test_an_injected_fault_is_retried_by_the_sdk_and_the_answer_happens_once(emu, client, receiver):
    emu.inject_fault("AnswerCall", status=503, count=2, retry_after=0.01)
    event = emu.incoming_call()

    result = await client.answer_call(event["data"]["incomingCallContext"], receiver.callback_url())
    await emu.idle()

    assert result.call_connection_id in emu.calls
    assert [r["status"] for r in emu.requests] == [503, 503, 200]
    assert len({r["repeatability_id"] for r in emu.requests}) == 1
    assert receiver.types() == ["CallConnected", "ParticipantsUpdated"]


@pytest.mark.asyncio
async def test_a_fault_answers_with_its_status_retry_after_and_error_code(emu, receiver, raw):
    emu.inject_fault("AnswerCall", status=429, retry_after=2, code="TooManyRequests", sub_code=8500)
    event = emu.incoming_call()
    body = {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}

    status, headers, error = await raw("POST", ANSWER, body)
    after, _, _ = await raw("POST", ANSWER, body)

    assert status == 429
    assert headers["Retry-After"] == "2"
    assert error["error"]["code"] == "TooManyRequests"
    assert error["error"]["innererror"]["code"] == "8500"
    assert after == 200


@pytest.mark.asyncio
async def test_a_persistent_fault_reaches_the_app_once_the_sdk_stops_retrying(emu, make_client, receiver):
    emu.inject_fault("*", status=500, count=10)
    sdk = make_client(retry_total=1)

    with pytest.raises(HttpResponseError) as failed:
        await sdk.answer_call(emu.incoming_call()["data"]["incomingCallContext"], receiver.callback_url())

    assert failed.value.status_code == 500
    assert len(emu.requests) == 2


@pytest.mark.asyncio
async def test_a_fault_matches_the_operation_by_its_spec_operation_id(emu, client, answered):
    call_id = await answered()
    emu.inject_fault("CallConnection_AddParticipant", status=400, code="Custom")

    with pytest.raises(HttpResponseError) as failed:
        await client.get_call_connection(call_id).add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await client.get_call_connection(call_id).get_call_properties()

    assert failed.value.error.code == "Custom"
    assert emu.requests[-1]["status"] == 200


@pytest.mark.asyncio
async def test_latency_delays_every_rest_response(make_emulator):
    slow = await make_emulator(latency_ms=150)

    async with CallAutomationClient(slow.url, AzureKeyCredential(slow.access_key)) as sdk:
        started = time.monotonic()
        with pytest.raises(HttpResponseError):
            await sdk.get_call_connection("missing").get_call_properties()
        elapsed = time.monotonic() - started

    assert elapsed >= 0.15


@pytest.mark.asyncio
async def test_time_scale_runs_a_20_second_invitation_timeout_in_a_fifth_of_a_second(make_emulator, receiver):
    fast = await make_emulator(time_scale=0.01)
    fast.script_target(AGENT, "no-answer")

    async with CallAutomationClient(fast.url, AzureKeyCredential(fast.access_key)) as sdk:
        event = fast.incoming_call()
        answered = await sdk.answer_call(event["data"]["incomingCallContext"], receiver.callback_url())
        await fast.idle()
        started = time.monotonic()
        await sdk.get_call_connection(answered.call_connection_id).add_participant(
            PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"), invitation_timeout=20)
        await fast.idle()
        elapsed = time.monotonic() - started

    # At least the scaled 0.2 s; the upper bound only has to tell the scaled timer from the unscaled 20 s (a loaded
    # machine can add seconds to the event loop's turns).
    assert 0.19 <= elapsed < 10
    assert receiver.event("AddParticipantFailed")["data"]["resultInformation"]["code"] == 408


@pytest.mark.asyncio
async def test_a_scripted_ring_delay_longer_than_the_invitation_timeout_is_no_answer(emu, client, receiver, answered):
    call_id = await answered()
    emu.script_target(AGENT, "answer", delay_ms=30_000)

    await client.get_call_connection(call_id).add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"), invitation_timeout=10)
    await emu.idle()

    assert receiver.event("AddParticipantFailed")["data"]["resultInformation"]["code"] == 408
