"""Forged callbacks: anyone on the internet can post to a callback URL. Every forgery gets 401 and changes nothing."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.domain.callback_tokens import callback_token
from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, diff, snapshot

pytestmark = pytest.mark.e2e


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forgeries(stack, victim_key: str, other_key: str) -> list[tuple[str, str | None, str | None]]:
    """(what, URL token or None for the right one, Authorization header or None for a valid ACS JWT)."""
    emu = stack.emulator
    now = int(time.time())
    valid = emu.mint_callback_token()
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return [
        ("wrong URL token", "A" * 43, None),
        ("URL token of another call", callback_token(stack.secret.encode(), other_key), None),
        ("URL token under another secret", callback_token(b"x" * 40, victim_key), None),
        ("empty-ish URL token", "-", None),
        ("no Authorization header", None, ""),
        ("Basic scheme", None, "Basic " + base64.b64encode(b"acs:secret").decode()),
        ("bearer without token", None, "Bearer "),
        ("garbage bearer", None, "Bearer not.a.jwt"),
        ("JWT with wrong audience", None, "Bearer " + emu.mint_callback_token(aud="someone-else")),
        ("JWT with wrong issuer", None, "Bearer " + emu.mint_callback_token(iss="https://evil.example")),
        ("expired JWT", None, "Bearer " + emu.mint_callback_token(iat=now - 7200, nbf=now - 7200, exp=now - 3600)),
        ("JWT not valid yet", None, "Bearer " + emu.mint_callback_token(nbf=now + 3600, exp=now + 7200)),
        ("JWT without exp", None, "Bearer " + emu.mint_callback_token(exp=None)),
        ("JWT without aud", None, "Bearer " + emu.mint_callback_token(aud=None)),
        ("JWT signed by a foreign key under the right kid", None, "Bearer " + emu.mint_callback_token(key="foreign")),
        ("JWT naming an unknown kid", None, "Bearer " + emu.mint_callback_token(headers={"kid": "forged-kid"})),
        ("alg none", None, "Bearer " + b64({"alg": "none", "typ": "JWT"}) + "." + payload + "."),
        ("HS256 keyed with the public key id", None, "Bearer " + jwt.encode(
            claims, "k" * 32, algorithm="HS256", headers={"kid": json.loads(base64.urlsafe_b64decode(
                header + "=" * (-len(header) % 4)))["kid"]})),
        ("claims changed after signing", None,
         "Bearer " + header + "." + b64({**claims, "aud": "x"}) + "." + signature),
        ("signature stripped", None, "Bearer " + header + "." + payload + "."),
    ]


async def test_every_forged_callback_gets_401_and_changes_nothing(stack):
    victim, victim_key, _ = await answered_call(stack, "+14255550801")
    _, other_key, _ = await answered_call(stack, "+14255550802")
    fig.bump(fig.CALLS, 2)
    cases = forgeries(stack, victim_key, other_key)
    before = await snapshot(stack)
    answers = []
    for what, token, authorization in cases:
        url = stack.callback_url(victim_key, token=token)
        headers = None if authorization is None else ({"Authorization": authorization} if authorization else {})
        body = [cloud_event("CallDisconnected", victim)]
        status, problem = await stack.post(url, body, headers=headers)
        fig.bump(fig.FORGED)
        answers.append((what, status, problem))
    changed = diff(before, await snapshot(stack))
    assert not any(changed.values()), changed
    wrong = [(what, status) for what, status, _ in answers if status != 401]
    assert not wrong, wrong
    # The answer never says which check failed or echoes the token.
    assert {json.dumps(p, sort_keys=True) for _, _, p in answers} == {json.dumps(
        {"detail": "the callback could not be authenticated", "status": 401, "title": "Unauthorized",
         "type": "about:blank"}, sort_keys=True)}


async def test_a_valid_callback_url_cannot_change_another_call(stack):
    victim, _, _ = await answered_call(stack, "+14255550803")
    _, attacker_key, _ = await answered_call(stack, "+14255550804")
    fig.bump(fig.CALLS, 2)
    before = await snapshot(stack)
    status, _ = await stack.post(stack.callback_url(attacker_key), [cloud_event("CallDisconnected", victim)])
    fig.bump(fig.FORGED)
    assert status == 401
    changed = diff(before, await snapshot(stack))
    assert not any(changed.values()), changed
