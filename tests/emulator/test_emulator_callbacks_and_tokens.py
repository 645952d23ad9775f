"""Callbacks are retried on 5xx/429, recorded, and signed with tokens the app can verify (or reject)."""

from __future__ import annotations

import time

import aiohttp
import jwt
import pytest


@pytest.mark.asyncio
async def test_a_callback_answered_with_503_or_429_is_retried_until_it_is_accepted(emu, receiver, answered):
    receiver.statuses = [503, 429]

    call_id = await answered()

    first = emu.callbacks[0]
    assert (first["type"], first["status"], first["attempts"]) == ("CallConnected", 200, 3)
    assert first["call_connection_id"] == call_id
    assert first["url"] == receiver.callback_url()
    assert [r.body[0]["type"] for r in receiver.received][:3] == ["Microsoft.Communication.CallConnected"] * 3
    assert len({r.body[0]["id"] for r in receiver.received[:3]}) == 1


@pytest.mark.asyncio
async def test_a_callback_that_keeps_failing_is_given_up_and_the_next_event_still_goes(emu, receiver, answered):
    receiver.statuses = [500] * 4

    await answered()

    assert [(c["type"], c["status"], c["attempts"]) for c in emu.callbacks] == [
        ("CallConnected", 500, 4), ("ParticipantsUpdated", 200, 1)]


@pytest.mark.asyncio
async def test_a_callback_refused_with_4xx_is_not_retried(emu, receiver, answered):
    receiver.statuses = [401]

    await answered()

    assert (emu.callbacks[0]["status"], emu.callbacks[0]["attempts"]) == (401, 1)


@pytest.mark.asyncio
async def test_an_unreachable_callback_url_is_recorded_without_a_status(emu, client):
    event = emu.incoming_call()

    await client.answer_call(event["data"]["incomingCallContext"], "http://127.0.0.1:9/unreachable")
    await emu.idle()

    assert {c["status"] for c in emu.callbacks} == {None}


@pytest.mark.asyncio
async def test_the_openid_metadata_names_the_issuer_and_the_served_key_set(emu):
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + "/calling/.well-known/acsopenidconfiguration") as response:
            metadata = await response.json()
        async with session.get(metadata["jwks_uri"]) as response:
            keys = await response.json()

    assert metadata["issuer"] == "https://acscallautomation.communication.azure.com"
    assert metadata["jwks_uri"] == emu.url + "/calling/keys"
    [key] = keys["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert keys == emu.jwks()


@pytest.mark.asyncio
async def test_issuer_and_resource_id_options_shape_the_tokens(make_emulator):
    emu = await make_emulator(issuer="https://issuer.test", resource_id="resource-42")

    claims = jwt.decode(emu.mint_callback_token(), options={"verify_signature": False})

    assert (claims["iss"], claims["aud"]) == ("https://issuer.test", "resource-42")
    assert claims["exp"] - claims["iat"] == 300
    assert emu.openid_configuration()["issuer"] == "https://issuer.test"


@pytest.mark.asyncio
async def test_a_minted_token_with_default_claims_verifies(emu, verify_token):
    claims = await verify_token(emu.mint_callback_token())

    assert claims["aud"] == emu.resource_id


@pytest.mark.asyncio
@pytest.mark.parametrize(("overrides", "error"), [
    # Times are taken when the test runs, not when it is collected (a long suite would outlive them).
    (lambda: {"exp": int(time.time()) - 60}, jwt.ExpiredSignatureError),
    (lambda: {"aud": "someone-else"}, jwt.InvalidAudienceError),
    (lambda: {"iss": "https://evil.example"}, jwt.InvalidIssuerError),
    (lambda: {"nbf": int(time.time()) + 600}, jwt.ImmatureSignatureError),
    (lambda: {"key": "foreign"}, jwt.InvalidSignatureError),
    (lambda: {"exp": None}, jwt.MissingRequiredClaimError),
], ids=["expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "unknown-key", "no-expiry"])
async def test_minted_tokens_with_defects_fail_verification(emu, verify_token, overrides, error):
    token = emu.mint_callback_token(**overrides())

    with pytest.raises(error):
        await verify_token(token)
