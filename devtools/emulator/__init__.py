"""A local Azure Communication Services Call Automation emulator for tests and local runs."""

from .auth import signed_headers_for
from .emulator import DEFAULT_ACCESS_KEY, DEFAULT_APP_URL, DEFAULT_RESOURCE_ID, Emulator
from .errors import AcsError
from .jwt_signing import DEFAULT_ISSUER
from .model import CallConnection, CallState, Outcome

__all__ = [
    "AcsError",
    "CallConnection",
    "CallState",
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_APP_URL",
    "DEFAULT_ISSUER",
    "DEFAULT_RESOURCE_ID",
    "Emulator",
    "Outcome",
    "signed_headers_for",
]
