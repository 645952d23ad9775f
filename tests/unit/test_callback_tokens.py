"""Per-call callback URLs: unguessable, bound to one call key, free of personal data."""

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from shared.domain.callback_tokens import (
    call_key_millis, callback_token, callback_url, inbound_call_key, new_call_key, token_matches,
)

SECRET = b"s" * 40


def test_a_token_matches_only_its_own_call_key_and_secret():
    key = new_call_key()
    token = callback_token(SECRET, key)
    assert token_matches(SECRET, key, token)
    assert not token_matches(SECRET, new_call_key(), token)
    assert not token_matches(b"t" * 40, key, token)
    assert not token_matches(SECRET, key, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not token_matches(SECRET, key, "")


def test_malformed_call_keys_never_match():
    assert not token_matches(SECRET, "../etc", callback_token(SECRET, "../etc"))


def test_inbound_keys_are_stable_per_event_and_distinct_across_events():
    assert inbound_call_key("event-1") == inbound_call_key("event-1")
    assert inbound_call_key("event-1") != inbound_call_key("event-2")


def test_callback_urls_carry_no_phone_number():
    url = callback_url("https://app.example.net", SECRET, inbound_call_key("evt-+14255550123"))
    assert url.startswith("https://app.example.net/api/callbacks/i")
    assert "4255550123" not in url


# ---- the formats, which URLs and keys already handed out depend on across versions -----------------------------

KEY_TIME = datetime(2026, 12, 2, 14, 30, 15, 250000, tzinfo=timezone.utc)
KEY_MILLIS = 1_796_221_815_250  # KEY_TIME in milliseconds since the epoch


def base36(value: int) -> str:
    digits, out = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while value:
        value, digit = divmod(value, 36)
        out = digits[digit] + out
    return out


def test_the_token_is_the_unpadded_url_safe_hmac_sha256_of_the_purpose_and_key():
    key = "i" + "0" * 31
    digest = hmac.new(SECRET, b"callsteer/callback/v1:" + key.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert callback_token(SECRET, key) == expected and len(expected) == 43
    assert token_matches(SECRET, key, expected)
    assert not token_matches(SECRET, key, expected + "=")  # padded: not what the app hands out
    assert not token_matches(SECRET, key, "") and not token_matches(SECRET, key, None)


def test_an_inbound_key_is_i_then_the_event_time_in_base_36_then_22_hex_digits_of_the_event_ids_hash():
    assert int(KEY_TIME.timestamp() * 1000) == KEY_MILLIS
    key = inbound_call_key("event-1", KEY_TIME)
    assert key == "i" + base36(KEY_MILLIS).rjust(9, "0") + hashlib.sha256(b"incoming:event-1").hexdigest()[:22]
    assert len(key) == 32 and call_key_millis(key) == KEY_MILLIS
    # Without a time (an event that named none) the time part is zeros.
    assert inbound_call_key("event-1") == "i" + "0" * 9 + hashlib.sha256(b"incoming:event-1").hexdigest()[:22]


def test_an_outbound_key_is_o_then_its_start_in_base_36_then_22_random_hex_digits():
    key, other = new_call_key(KEY_TIME), new_call_key(KEY_TIME)
    assert key[:10] == "o" + base36(KEY_MILLIS).rjust(9, "0") and len(key) == 32 and key != other
    assert all(c in "0123456789abcdef" for c in key[10:]) and call_key_millis(key) == KEY_MILLIS
    before = datetime.now(timezone.utc)
    assert abs(call_key_millis(new_call_key()) - before.timestamp() * 1000) < 60_000  # now, on the UTC clock


@pytest.mark.parametrize("when,millis", [
    (datetime(1970, 1, 1, tzinfo=timezone.utc), 0),
    (datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc), 1),
    (datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc), 0),  # before the epoch: clamped, never negative
    (datetime(2026, 12, 2, 14, 30, 15, 250000, tzinfo=timezone.utc), KEY_MILLIS),
    (datetime(2100, 1, 1, tzinfo=timezone.utc), 4_102_444_800_000),  # past 36**8 ms (2059): all nine digits used
])
def test_key_times_are_whole_milliseconds_from_the_epoch_in_nine_base_36_digits(when, millis):
    key = new_call_key(when)
    assert key[1:10] == base36(millis).rjust(9, "0") and call_key_millis(key) == millis


def test_a_key_without_a_readable_time_reads_as_time_zero():
    assert call_key_millis("i" + "-" * 9 + "0" * 22) == 0
