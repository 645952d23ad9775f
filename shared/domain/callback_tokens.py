"""Per-call callback URLs: an opaque call key and its HMAC, so a URL names one call and cannot be forged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import datetime, timezone

_KEY = re.compile(r"[a-z0-9]{16,64}")
_PURPOSE = b"callsteer/callback/v1:"
CALLBACK_ROUTE_PREFIX = "callbacks"


def callback_token(secret: bytes, call_key: str) -> str:
    """The URL-safe HMAC-SHA256 of the call key under CALLBACK_SECRET."""
    digest = hmac.new(secret, _PURPOSE + call_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_matches(secret: bytes, call_key: str, token: str) -> bool:
    """Constant-time check of a token against the call key; malformed keys never match."""
    if not _KEY.fullmatch(call_key or ""):
        return False
    return hmac.compare_digest(callback_token(secret, call_key).encode(), (token or "").encode())


def callback_url(base_url: str, secret: bytes, call_key: str) -> str:
    """The callback URL given to ACS for one call: no phone number or other personal data in it."""
    return f"{base_url}/api/{CALLBACK_ROUTE_PREFIX}/{call_key}/{callback_token(secret, call_key)}"


# A call key is its kind (i: inbound, o: outbound), when the call began (milliseconds since the epoch, base 36,
# 9 characters: good until the year 5138), and 22 characters that make it unique. The time lets the store place the
# call in time order from the key alone (a callback that races ahead of the app's own record finds the same row).
_TIME_WIDTH = 9
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(value: int) -> str:
    out = ""
    while value:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
    return out.rjust(_TIME_WIDTH, "0")[-_TIME_WIDTH:]


def _millis(when: datetime) -> int:
    return max(0, int(when.timestamp() * 1000))


def inbound_call_key(event_id: str, event_time: datetime | None = None) -> str:
    """A call key derived from the IncomingCall event (id and time), so a redelivery maps to the same call."""
    return "i" + _base36(_millis(event_time) if event_time else 0) + hashlib.sha256(b"incoming:" + event_id.encode()).hexdigest()[:22]


def new_call_key(now: datetime | None = None) -> str:
    """A fresh random call key for a call the app places itself, begun at `now`."""
    return "o" + _base36(_millis(now or datetime.now(timezone.utc))) + uuid.uuid4().hex[:22]


def call_key_millis(call_key: str) -> int:
    """When the call of a key began, in milliseconds since the epoch (0 for a key that carries no time)."""
    try:
        return int(call_key[1:1 + _TIME_WIDTH], 36)
    except ValueError:
        return 0
