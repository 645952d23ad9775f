"""Forged callbacks: every kind of bad JWT gets 401, changes nothing, and the log says why without the token."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from tests.e2e.test_callbacks import answered_call, for_call, unchanged

pytestmark = pytest.mark.e2e


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(stack) -> dict:
    now = int(time.time())
    return {"iss": stack.emulator.issuer, "aud": stack.emulator.resource_id, "iat": now, "nbf": now, "exp": now + 300}


def unsigned_token(stack) -> str:
    kid = stack.emulator.jwks()["keys"][0]["kid"]
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(stack)).encode())}."


def hs256_with_public_key(stack) -> str:
    """The classic confusion attack: an HMAC 'signature' keyed with the published RSA public key."""
    jwk = stack.emulator.jwks()["keys"][0]
    public_pem = RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64(json.dumps({"alg": "HS256", "kid": jwk["kid"], "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(stack)).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


FORGERIES = {
    "missing": (lambda s: None, "no bearer token"),
    "not a bearer": (lambda s: "Basic dXNlcjpwYXNz", "no bearer token"),
    "malformed": (lambda s: "Bearer not.a.jwt", "malformed"),
    "expired": (lambda s: "Bearer " + s.emulator.mint_callback_token(exp=int(time.time()) - 600), "expired"),
    "not yet valid": (lambda s: "Bearer " + s.emulator.mint_callback_token(nbf=int(time.time()) + 600),
                      "not valid yet"),
    "wrong issuer": (lambda s: "Bearer " + s.emulator.mint_callback_token(iss="https://evil.example"),
                     "wrong issuer"),
    "wrong audience": (lambda s: "Bearer " + s.emulator.mint_callback_token(aud="another-resource"),
                       "wrong audience"),
    "no expiry": (lambda s: "Bearer " + s.emulator.mint_callback_token(exp=None), "lacks the exp claim"),
    "alg none": (lambda s: "Bearer " + unsigned_token(s), "algorithm 'none'"),
    "HS256 with the public key": (lambda s: "Bearer " + hs256_with_public_key(s), "algorithm 'HS256'"),
    "signed by another key": (lambda s: "Bearer " + s.emulator.mint_callback_token(key="foreign"),
                              "signature does not verify"),
    "unknown key id": (lambda s: "Bearer " + s.emulator.mint_callback_token(headers={"kid": "rotated-away"}),
                       "unknown key"),
}


@pytest.mark.parametrize("kind", list(FORGERIES))
async def test_a_forged_callback_gets_401_changes_nothing_and_logs_why(stack, kind, caplog):
    make, reason = FORGERIES[kind]
    call, call_key = await answered_call(stack, "+14255550160")
    authorization = make(stack)
    headers = {} if authorization is None else {"Authorization": authorization}
    status, problem = await stack.post(stack.callback_url(call_key), for_call("CallDisconnected", call),
                                       headers=headers)
    assert status == 401 and problem["title"] == "Unauthorized"
    await unchanged(stack, call)
    assert reason in caplog.text
    if authorization and " " in authorization:
        assert authorization.split(" ", 1)[1] not in caplog.text


async def test_genuine_callbacks_do_not_fetch_the_keys_again(stack):
    from shared.bootstrap import get_services

    call, call_key = await answered_call(stack, "+14255550161")
    verifier = (await get_services()).callback_verifier
    before = verifier.fetches
    for i in range(5):
        status, _ = await stack.post(stack.callback_url(call_key), for_call("PlayCompleted", call, operationContext=f"p{i}"))
        assert status == 200
    assert verifier.fetches == before


async def test_unknown_key_ids_do_not_make_the_app_fetch_on_every_request(stack):
    from shared.bootstrap import get_services

    call, call_key = await answered_call(stack, "+14255550162")
    verifier = (await get_services()).callback_verifier
    before = verifier.fetches
    for _ in range(10):
        headers = {"Authorization": "Bearer " + stack.emulator.mint_callback_token(headers={"kid": "forged"})}
        status, _ = await stack.post(stack.callback_url(call_key), for_call("CallDisconnected", call), headers=headers)
        assert status == 401
    assert verifier.fetches - before <= 1
