"""Callback authenticity: the JWT that ACS puts on every callback, checked against ACS's published keys.

Lifetime: ACS makes a new token for every callback, valid for 5 minutes ("The JWT lifetime is 5 minutes",
MicrosoftDocs azure-docs, how-tos/call-automation/secure-webhook-endpoint.md). A token that claims to live longer
than MAX_LIFETIME_SECONDS (twice that) is not one ACS made: `exp - iat` is checked, or without `iat`,
`exp - now`, which may exceed the bound by the clock-skew leeway LEEWAY_SECONDS. A token without `exp` is refused.

Keys are cached per process and fetched again only when a token names a key id the cache does not hold
(ACS rotates keys), at most once per REFRESH_INTERVAL, so forged key ids cannot make the app fetch on
every request.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Awaitable, Callable, Protocol

import jwt
from jwt import PyJWK

from shared.errors import Unauthorized

ALGORITHM = "RS256"
REFRESH_INTERVAL = 30.0
LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 600
_REQUIRED_CLAIMS = ["exp", "iss", "aud"]


class CallbackVerifier(Protocol):
    """Checks the Authorization header of a callback; raises Unauthorized saying why (never the token)."""

    async def verify(self, authorization: str | None) -> None: ...


KeyFetcher = Callable[[str], Awaitable[dict[str, Any]]]


async def fetch_json(url: str) -> dict[str, Any]:
    """GET a JSON document with a short timeout (used for the key set)."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(url) as response:
            response.raise_for_status()
            return json.loads(await response.read())


class JwksCallbackVerifier:
    """Verifies RS256 callback JWTs: signature by a published key, issuer, audience, expiry and not-before."""

    def __init__(self, jwks_url: str, issuer: str, audience: str, fetch: KeyFetcher = fetch_json,
                 monotonic: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._fetch = fetch
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._monotonic()
            if self._fetched_at is not None and now - self._fetched_at < REFRESH_INTERVAL:
                return
            self._fetched_at = now
            self.fetches += 1
            try:
                document = await self._fetch(self._jwks_url)
            except Exception as exc:  # noqa: BLE001 - any failure to get keys means: cannot verify now
                raise Unauthorized(f"callback signing keys could not be fetched ({type(exc).__name__})") from None
            keys: dict[str, PyJWK] = {}
            for entry in document.get("keys", []) if isinstance(document, dict) else []:
                if isinstance(entry, dict) and entry.get("kid") and entry.get("kty") == "RSA":
                    try:
                        keys[entry["kid"]] = PyJWK(entry, algorithm=ALGORITHM)
                    except jwt.PyJWTError:
                        continue
            self._keys = keys

    async def _key(self, kid: str) -> PyJWK:
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("callback JWT is signed by an unknown key")
        return key

    async def verify(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("callback has no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("callback JWT is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"callback JWT algorithm {str(header.get('alg'))[:10]!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("callback JWT names no key id")
        key = await self._key(kid)
        try:
            claims = jwt.decode(token, key.key, algorithms=[ALGORITHM], audience=self._audience, issuer=self._issuer,
                                leeway=LEEWAY_SECONDS, options={"require": _REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("callback JWT has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("callback JWT is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("callback JWT has the wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("callback JWT has the wrong audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"callback JWT lacks the {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("callback JWT signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"callback JWT is invalid ({type(exc).__name__})") from None
        self._check_lifetime(claims)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse a token that lives longer than ACS's do (PyJWT has checked exp, iat and nbf are numbers)."""
        exp, iat = claims["exp"], claims.get("iat")
        for name, value in (("exp", exp), ("iat", iat)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise Unauthorized(f"callback JWT's {name} claim is not a number")
        if iat is not None:
            lifetime, bound = exp - iat, MAX_LIFETIME_SECONDS
        else:
            lifetime, bound = exp - self._wall_clock(), MAX_LIFETIME_SECONDS + LEEWAY_SECONDS
        if lifetime > bound:
            raise Unauthorized(f"callback JWT lives {int(lifetime)} s; ACS's live minutes and at most "
                               f"{MAX_LIFETIME_SECONDS} s are accepted")
