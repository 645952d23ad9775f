"""RS256 tokens on callbacks, with the key set and OpenID metadata the app validates them against."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_ISSUER = "https://acscallautomation.communication.azure.com"
TOKEN_LIFETIME_S = 300
ALGORITHM = "RS256"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _process_key() -> rsa.RSAPrivateKey:
    # One RSA-2048 key per process: generating one costs ~0.1 s, and test suites start many emulators.
    return _new_key()


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    # RFC 7638 thumbprint as the kid: stable for the key, unique across emulator runs.
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    kid = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode("ascii")
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


class CallbackSigner:
    """Holds the emulator's signing key and mints the Bearer tokens put on callback POSTs."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = _process_key()
        self._jwk = _public_jwk(self._key)
        self._foreign_key: rsa.RSAPrivateKey | None = None

    @property
    def kid(self) -> str:
        """Key id put in every token header and in the served key set."""
        return self._jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set served at /calling/keys."""
        return {"keys": [dict(self._jwk)]}

    def openid_configuration(self, base_url: str) -> dict[str, Any]:
        """OpenID metadata served at /calling/.well-known/acsopenidconfiguration."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{base_url}/calling/keys",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_signing_alg_values_supported": [ALGORITHM],
        }

    def mint(self, *, key: str = "emulator", headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token; claims override the defaults (None removes one), key="foreign" signs with an unknown key."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_S,
        }
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        if key == "emulator":
            signing_key = self._key
        elif key == "foreign":
            # Same kid, different key: the signature check, not the key lookup, must catch it.
            self._foreign_key = self._foreign_key or _new_key()
            signing_key = self._foreign_key
        else:
            raise ValueError("key must be 'emulator' or 'foreign'")
        token_headers = {"kid": self.kid, **(headers or {})}
        return jwt.encode(payload, signing_key, algorithm=ALGORITHM, headers=token_headers)
