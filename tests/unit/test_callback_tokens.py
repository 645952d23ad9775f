"""Per-call callback URLs: unguessable, bound to one call key, free of personal data."""

from shared.domain.callback_tokens import (
    callback_token, callback_url, inbound_call_key, new_call_key, token_matches,
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
