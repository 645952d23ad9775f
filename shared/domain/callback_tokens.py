"""Per-call callback URLs: an opaque call key and its HMAC, so a URL names one call and cannot be forged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid

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


def inbound_call_key(event_id: str) -> str:
    """A call key derived from the IncomingCall event id, so a redelivery of the event maps to the same call."""
    return "i" + hashlib.sha256(b"incoming:" + event_id.encode()).hexdigest()[:31]


def new_call_key() -> str:
    """A fresh random call key for a call the app places itself."""
    return "o" + uuid.uuid4().hex
