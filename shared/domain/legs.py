"""The app's own legs: ACS raises an IncomingCall for every invitation the app sends to an ACS user or to one of the
resource's numbers. The app marks its invitations with a signed custom header so it knows them when they come back,
and counts hops so that a call steered from number to number cannot loop. Pure.

The header rides in the invitation's custom calling context (AddParticipant, TransferToParticipant), which ACS hands to
the target in the IncomingCall's `customContext`: a SIP header for phone numbers, a VoIP header otherwise. Its value
is `v1.<hop>.<issued unix time>.<mac>`, the MAC an HMAC-SHA256 under CALLBACK_SECRET of the hop, the time and the
target's raw id, so it cannot be forged, moved to another target, or replayed long after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

LEG_HEADER = "X-MS-Custom-Callsteer-Leg"
# How many times one call (one correlation id) may be steered to another of the resource's numbers before the next
# IncomingCall is rejected: enough for a transfer to a department and on to voicemail, far from a loop.
MAX_HOPS = 5
# How far a leg header's time may be from the IncomingCall's: an invitation rings for at most 180 s.
LEG_TOKEN_TTL = timedelta(minutes=10)
_PURPOSE = b"callsteer/leg/v1:"
_TOKEN = re.compile(r"v1\.([0-9]{1,2})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")


def _mac(secret: bytes, hop: int, issued: int, target_raw_id: str) -> str:
    digest = hmac.new(secret, _PURPOSE + f"{hop}.{issued}.{target_raw_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def leg_token(secret: bytes, target_raw_id: str, hop: int, now: datetime) -> str:
    """The header value for an invitation to `target_raw_id` that makes hop number `hop` of its call."""
    issued = int(now.timestamp())
    return f"v1.{hop}.{issued}.{_mac(secret, hop, issued, target_raw_id)}"


def leg_headers(secret: bytes, target_raw_id: str, hop: int, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """(SIP headers, VoIP headers) carrying the leg header: SIP for a phone number, VoIP for anyone else."""
    value = leg_token(secret, target_raw_id, hop, now)
    return ({LEG_HEADER: value}, {}) if target_raw_id.startswith("4:") else ({}, {LEG_HEADER: value})


@dataclass(frozen=True)
class Leg:
    """A leg the app's own invitation made: the hop it is for this call."""

    hop: int


def read_leg(secret: bytes, headers: dict[str, str], target_raw_id: str, event_time: datetime) -> Leg | None:
    """The app's leg header among an IncomingCall's custom headers, if present and genuine for this target."""
    value = next((v for k, v in headers.items() if k.lower() == LEG_HEADER.lower()), None)
    if value is None:
        return None
    found = _TOKEN.fullmatch(value)
    if found is None:
        return None
    hop, issued = int(found[1]), int(found[2])
    if not hmac.compare_digest(_mac(secret, hop, issued, target_raw_id), found[3]):
        return None
    if abs(event_time - datetime.fromtimestamp(issued, timezone.utc)) > LEG_TOKEN_TTL:
        return None
    return Leg(hop=hop)
