"""Callback JWTs live as long as ACS's do: a token claiming to live longer than MAX_LIFETIME_SECONDS (measured as
exp - iat, or without iat as exp - now within the clock-skew leeway), or without exp, gets 401 and changes nothing;
tokens within the bound are accepted. Through the registered callbacks function, the emulator's keys and Azurite."""

from __future__ import annotations

import time

import pytest

from shared.adapters.callback_auth import LEEWAY_SECONDS, MAX_LIFETIME_SECONDS
from tests.e2e.test_callbacks import answered_call, for_call, unchanged
from tests.reliability import figures as fig

pytestmark = pytest.mark.e2e
YEAR = 365 * 24 * 3600


def too_long(now: int) -> dict[str, dict]:
    return {
        "75 years": {"iat": now, "nbf": now, "exp": now + 75 * YEAR},
        "one second past the bound": {"iat": now, "exp": now + MAX_LIFETIME_SECONDS + 1},
        "issued long ago, expiring far ahead": {"iat": now - 60, "exp": now + YEAR},
        "no iat, an hour ahead": {"iat": None, "exp": now + 3600},
        "no iat, just past the bound and leeway": {"iat": None, "exp": now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS + 30},
        "no exp": {"exp": None},
        "exp as a string": {"exp": str(now + 300)},
    }


@pytest.mark.parametrize("kind", list(too_long(0)))
async def test_a_callback_jwt_that_lives_longer_than_acs_tokens_or_never_expires_gets_401(stack, kind, caplog):
    call, call_key = await answered_call(stack, "+14255550951")
    claims = too_long(int(time.time()))[kind]
    headers = {"Authorization": "Bearer " + stack.emulator.mint_callback_token(**claims)}
    fig.bump(fig.FORGED)
    status, problem = await stack.post(stack.callback_url(call_key), for_call("CallDisconnected", call), headers=headers)
    assert status == 401, problem
    await unchanged(stack, call)
    assert "callback JWT" in caplog.text


@pytest.mark.parametrize("claims", [
    {"exp": "now+300"}, {"exp": f"now+{MAX_LIFETIME_SECONDS}"}, {"iat": None, "exp": f"now+{MAX_LIFETIME_SECONDS}"},
])
async def test_a_callback_jwt_within_the_lifetime_bound_is_accepted(stack, claims):
    call, call_key = await answered_call(stack, "+14255550952")
    now = int(time.time())
    resolved = {k: (now + int(v[4:]) if isinstance(v, str) else v) for k, v in claims.items()}
    headers = {"Authorization": "Bearer " + stack.emulator.mint_callback_token(**resolved)}
    status, body = await stack.post(stack.callback_url(call_key), for_call("PlayCompleted", call), headers=headers)
    assert status == 200, body
