"""HMAC authentication, api-version and request-body validation are enforced like the real service."""

from __future__ import annotations

import json
from email.utils import formatdate

import aiohttp
import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from devtools.emulator import signed_headers_for
from devtools.emulator.auth import decode_access_key

ANSWER = "/calling/callConnections:answer?api-version=2026-03-12"
OTHER_KEY = "b3RoZXItYWNjZXNzLWtleS1ub3QtdGhlLWVtdWxhdG9y"


def _answer_body(emu, receiver) -> dict:
    event = emu.incoming_call()
    return {"incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url()}


@pytest.mark.asyncio
async def test_a_correctly_signed_raw_request_is_accepted(emu, receiver, raw):
    status, _, body = await raw("POST", ANSWER, _answer_body(emu, receiver))

    assert status == 200
    assert body["callConnectionState"] == "connecting"


@pytest.mark.asyncio
async def test_a_body_changed_after_signing_is_refused_with_401(emu, receiver, raw):
    body = _answer_body(emu, receiver)
    signed = json.dumps(body).encode()
    tampered = signed.replace(b"callbacks", b"elsewhere")

    headers = signed_headers_for("POST", ANSWER, f"127.0.0.1:{emu.port}", signed, decode_access_key(emu.access_key),
                                 formatdate(usegmt=True))
    status, _, error = await raw("POST", ANSWER, raw_body=tampered, headers=headers)

    assert status == 401
    assert "x-ms-content-sha256" in error["error"]["message"]
    assert emu.calls == {}


@pytest.mark.asyncio
async def test_the_sdk_with_a_wrong_key_is_refused_with_401(emu, receiver, make_client):
    event = emu.incoming_call()
    wrong = make_client(OTHER_KEY)

    with pytest.raises(ClientAuthenticationError) as refused:
        await wrong.answer_call(event["data"]["incomingCallContext"], receiver.callback_url())

    assert refused.value.status_code == 401
    assert emu.requests[-1]["status"] == 401


@pytest.mark.asyncio
@pytest.mark.parametrize("dropped", ["x-ms-date", "Authorization", "x-ms-content-sha256"])
async def test_a_request_missing_a_signing_header_is_refused_with_401(emu, receiver, raw, dropped):

    data = json.dumps(_answer_body(emu, receiver)).encode()
    headers = signed_headers_for("POST", ANSWER, f"127.0.0.1:{emu.port}", data, decode_access_key(emu.access_key),
                                 formatdate(usegmt=True))
    del headers[dropped]
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.url + ANSWER, data=data, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "Unauthorized"


@pytest.mark.asyncio
async def test_a_stale_date_is_refused_with_401(emu, receiver, raw):
    status, _, _ = await raw("POST", ANSWER, _answer_body(emu, receiver),
                             headers={"x-ms-date": formatdate(0, usegmt=True)})

    assert status == 401


@pytest.mark.asyncio
async def test_a_bearer_token_is_refused_with_401_because_the_emulator_only_knows_the_key(emu, receiver, raw):
    status, _, error = await raw("POST", ANSWER, _answer_body(emu, receiver),
                                 headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})

    assert status == 401
    assert "bearer" in error["error"]["message"]


@pytest.mark.asyncio
async def test_a_missing_api_version_is_refused_with_400(emu, receiver, raw):
    status, _, error = await raw("POST", "/calling/callConnections:answer", _answer_body(emu, receiver))

    assert status == 400
    assert error["error"]["code"] == "MissingApiVersionParameter"


@pytest.mark.asyncio
async def test_an_unknown_api_version_is_refused_with_400(emu, receiver, raw):
    status, _, error = await raw("POST", "/calling/callConnections:answer?api-version=1999-01-01",
                                 _answer_body(emu, receiver))

    assert status == 400
    assert error["error"]["code"] == "UnsupportedApiVersion"


CALL = "/calling/callConnections/{id}"
INCOMPLETE = [
    ("answer without callbackUri", "POST", "/calling/callConnections:answer", {"incomingCallContext": "x"}),
    ("answer without context", "POST", "/calling/callConnections:answer", {"callbackUri": "http://127.0.0.1/cb"}),
    ("answer with a relative callbackUri", "POST", "/calling/callConnections:answer",
     {"incomingCallContext": "x", "callbackUri": "/cb"}),
    ("reject with an unknown reason", "POST", "/calling/callConnections:reject",
     {"incomingCallContext": "x", "callRejectReason": "sleepy"}),
    ("redirect without target", "POST", "/calling/callConnections:redirect", {"incomingCallContext": "x"}),
    ("create without targets", "POST", "/calling/callConnections", {"callbackUri": "http://127.0.0.1/cb"}),
    ("create with empty targets", "POST", "/calling/callConnections",
     {"targets": [], "callbackUri": "http://127.0.0.1/cb"}),
    ("create with a phone without value", "POST", "/calling/callConnections",
     {"targets": [{"phoneNumber": {}}], "callbackUri": "http://127.0.0.1/cb"}),
    ("connect without locator", "POST", "/calling/callConnections:connect", {"callbackUri": "http://127.0.0.1/cb"}),
    ("connect with two locators", "POST", "/calling/callConnections:connect",
     {"callbackUri": "http://127.0.0.1/cb", "callLocator": {"roomId": "r", "groupCallId": "g"}}),
    ("add without participant", "POST", CALL + "/participants:add", {"operationContext": "x"}),
    ("add with an identifier that says nothing", "POST", CALL + "/participants:add", {"participantToAdd": {}}),
    ("add with a too long timeout", "POST", CALL + "/participants:add",
     {"participantToAdd": {"rawId": "4:+14255550199", "phoneNumber": {"value": "+14255550199"}},
      "invitationTimeoutInSeconds": 181}),
    ("remove without participant", "POST", CALL + "/participants:remove", {}),
    ("cancel without invitation", "POST", CALL + "/participants:cancelAddParticipant", {}),
    ("transfer without target", "POST", CALL + ":transferToParticipant", {}),
    ("a body that is not an object", "POST", CALL + "/participants:add", ["participantToAdd"]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "method", "path", "body"), INCOMPLETE, ids=[c[0] for c in INCOMPLETE])
async def test_a_correctly_signed_request_missing_required_fields_is_refused_with_400(answered, raw, emu, case, method,
                                                                                     path, body):
    call_id = await answered()

    status, _, error = await raw(method, path.format(id=call_id) + "?api-version=2026-03-12", body)

    assert status == 400, case
    assert error["error"]["code"] == "BadRequest"
    assert error["error"]["message"]


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_refused_with_400(raw):
    status, _, _ = await raw("POST", ANSWER, raw_body=b"{not json")

    assert status == 400


@pytest.mark.asyncio
async def test_an_ended_call_still_known_answers_get_call_disconnected_and_actions_400_8501(answered, client, emu):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    await connection.hang_up(is_for_everyone=False)

    assert (await connection.get_call_properties()).call_connection_state == "disconnected"
    for action in (lambda: connection.transfer_call_to_participant(PhoneNumberIdentifier("+14255550199"),
                                                                    source_caller_id_number=PhoneNumberIdentifier("+18005550100")),
                   lambda: connection.hang_up(is_for_everyone=True)):
        with pytest.raises(HttpResponseError) as refused:
            await action()
        assert refused.value.status_code == 400 and refused.value.error.code == "8501"
        assert "not in Established state" in refused.value.error.message


@pytest.mark.asyncio
async def test_an_ended_call_forgotten_answers_404_8522_to_get_call_and_actions(answered, client, emu):
    emu.ended_calls = "not-found"
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    await connection.hang_up(is_for_everyone=False)

    with pytest.raises(ResourceNotFoundError) as gone:
        await connection.get_call_properties()
    assert gone.value.error.code == "8522"
    with pytest.raises(ResourceNotFoundError) as refused:
        await connection.hang_up(is_for_everyone=True)
    assert refused.value.error.code == "8522"


@pytest.mark.asyncio
async def test_an_unknown_route_under_calling_is_not_found(raw):
    status, _, error = await raw("POST", "/calling/callConnections/abc:dance?api-version=2026-03-12", {})

    assert status == 404
    assert error["error"]["code"] == "NotFound"
