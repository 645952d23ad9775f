"""The callback JWT verifier's key cache: rotation picks up new keys; forged key ids cannot force fetches."""

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.adapters.callback_auth import REFRESH_INTERVAL, JwksCallbackVerifier
from shared.errors import Unauthorized

ISSUER, AUDIENCE = "https://acscallautomation.communication.azure.com", "resource-1"


def new_key(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def token(private, kid, **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300, **claims}
    return "Bearer " + jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


class FakeKeySet:
    """Serves a key set that the test can rotate, counting fetches."""

    def __init__(self, *jwks):
        self.keys = list(jwks)
        self.fetches = 0

    async def __call__(self, url):
        self.fetches += 1
        return {"keys": list(self.keys)}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


async def test_a_rotated_in_key_is_fetched_once_and_then_served_from_cache():
    old_private, old_jwk = new_key("k1")
    new_private, new_jwk = new_key("k2")
    keys, clock = FakeKeySet(old_jwk), FakeClock()
    verifier = JwksCallbackVerifier("https://keys", ISSUER, AUDIENCE, fetch=keys, monotonic=clock)
    await verifier.verify(token(old_private, "k1"))
    await verifier.verify(token(old_private, "k1"))
    assert keys.fetches == 1
    keys.keys.append(new_jwk)
    clock.now += REFRESH_INTERVAL + 1
    await verifier.verify(token(new_private, "k2"))
    await verifier.verify(token(new_private, "k2"))
    assert keys.fetches == 2


async def test_unknown_key_ids_within_the_refresh_interval_fetch_nothing_more():
    private, jwk = new_key("k1")
    keys, clock = FakeKeySet(jwk), FakeClock()
    verifier = JwksCallbackVerifier("https://keys", ISSUER, AUDIENCE, fetch=keys, monotonic=clock)
    await verifier.verify(token(private, "k1"))
    for _ in range(20):
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(token(private, "forged"))
    assert keys.fetches == 1


async def test_keys_that_cannot_be_fetched_mean_unauthorized_not_a_crash():
    async def failing(url):
        raise OSError("network down")

    private, _ = new_key("k1")
    verifier = JwksCallbackVerifier("https://keys", ISSUER, AUDIENCE, fetch=failing, monotonic=FakeClock())
    with pytest.raises(Unauthorized, match="could not be fetched"):
        await verifier.verify(token(private, "k1"))
