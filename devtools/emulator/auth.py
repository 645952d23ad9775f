"""HMAC-SHA256 request authentication, as the Communication Services SDKs sign requests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping
from urllib.parse import quote, unquote

from .errors import UNAUTHORIZED, AcsError

SCHEME = "HMAC-SHA256"
# The service refuses stale or future-dated signatures; a quarter of an hour is its usual window.
MAX_CLOCK_SKEW = timedelta(minutes=15)


def content_hash(body: bytes) -> str:
    """Base64 SHA-256 of the body, the value of x-ms-content-sha256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign(secret: bytes, string_to_sign: str) -> str:
    """Base64 HMAC-SHA256 of the string to sign."""
    return base64.b64encode(hmac.new(secret, string_to_sign.encode("utf-8"), hashlib.sha256).digest()).decode("ascii")


def decode_access_key(access_key: str) -> bytes:
    """The HMAC secret: the base64-decoded access key."""
    try:
        return base64.b64decode(access_key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the access key must be base64 (as in an ACS connection string's accesskey=)") from exc


def signed_headers_for(method: str, path_and_query: str, host: str, body: bytes, secret: bytes,
                       date: str) -> dict[str, str]:
    """Headers that sign a request like the SDK does (for tests and tools that send raw HTTP)."""
    digest = content_hash(body)
    string_to_sign = f"{method.upper()}\n{path_and_query}\n{date};{host};{digest}"
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": f"{SCHEME} SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={sign(secret, string_to_sign)}",
    }


def _denied(reason: str) -> AcsError:
    return AcsError(401, f"Denied by the HMAC authentication policy: {reason}", UNAUTHORIZED)


def verify_request(method: str, path_and_query: str, headers: Mapping[str, str], body: bytes, secret: bytes,
                   now: datetime | None = None) -> None:
    """Raise a 401 AcsError unless the request carries a valid HMAC signature over its content."""
    authorization = headers.get("Authorization", "")
    if not authorization:
        raise _denied("the Authorization header is missing.")
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() == "bearer":
        raise _denied("bearer tokens are not accepted; the emulator only knows the access key.")
    if scheme != SCHEME:
        raise _denied(f"the Authorization scheme must be {SCHEME}.")
    fields = dict(part.partition("=")[::2] for part in params.split("&"))
    signed_headers = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    if not signed_headers or not signature:
        raise _denied("the Authorization header must carry SignedHeaders and Signature.")
    names = signed_headers.lower().split(";")
    for required in ("x-ms-date", "host", "x-ms-content-sha256"):
        if required not in names:
            raise _denied(f"'{required}' must be a signed header.")
    values = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise _denied(f"the signed header '{name}' is missing.")
        values.append(value)
    _check_date(headers["x-ms-date"], now or datetime.now(timezone.utc))
    if not hmac.compare_digest(headers["x-ms-content-sha256"], content_hash(body)):
        raise _denied("x-ms-content-sha256 does not match the request body.")
    signed_values = ";".join(values)
    for candidate in equivalent_paths(path_and_query):
        if hmac.compare_digest(signature, sign(secret, f"{method.upper()}\n{candidate}\n{signed_values}")):
            return
    raise _denied("the signature does not match; check the access key.")


def equivalent_paths(path_and_query: str) -> list[str]:
    """The spellings of a path a client may have signed: as received, fully escaped, and unescaped.

    The SDK signs path segments escaped with quote(safe=""), e.g. 4%3A%2B1425..., but aiohttp (yarl)
    un-escapes ":" on the wire, so the received path can differ from the signed one.
    """
    path, sep, query = path_and_query.partition("?")
    escaped = "/".join(quote(unquote(segment), safe="") for segment in path.split("/"))
    candidates = [path_and_query, escaped + sep + query, unquote(path_and_query)]
    return list(dict.fromkeys(candidates))


def _check_date(value: str, now: datetime) -> None:
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise _denied("x-ms-date is not an RFC 1123 date.") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=timezone.utc)
    if abs(now - sent) > MAX_CLOCK_SKEW:
        raise _denied("x-ms-date is too far from the service's clock.")
