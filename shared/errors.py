"""The app's error family: adapters translate SDK errors into these; entry points map them to responses."""

from __future__ import annotations


class CallsteerError(Exception):
    """Base of every error the app raises on purpose."""


class ConfigError(CallsteerError):
    """A setting is missing or malformed; the message names it."""


class ValidationError(CallsteerError):
    """Input is invalid; `field` names what is wrong (a JSON path, a header, a rule field)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(ValidationError):
    """A body is over the documented size limit."""


class RulesError(ValidationError):
    """A routing ruleset is invalid; the message names the rule and the field."""


class NotFound(CallsteerError):
    """The call (or operation) does not exist."""


class Conflict(CallsteerError):
    """The request conflicts with the call's state (for example, the call has ended)."""

    def __init__(self, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state


class Unauthorized(CallsteerError):
    """A callback's token or signature is missing or wrong; the message says why, never the token."""


class AcsError(CallsteerError):
    """Call Automation refused or failed a request."""

    def __init__(self, message: str, status: int | None, code: str | None = None, sub_code: int | None = None,
                 retryable: bool = False, in_progress: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        # The service's numeric detail code (8501, 8522, ...), read from error.code or innererror.code.
        self.sub_code = sub_code
        self.retryable = retryable
        # A 409 to a repeatable request: the original request with this Repeatability-Request-ID is still being
        # carried out. Its outcome stands; this copy neither succeeded nor failed.
        self.in_progress = in_progress


class StoreUnavailable(CallsteerError):
    """Table Storage is unreachable or throttling; the caller should retry later."""


class ConcurrencyConflict(CallsteerError):
    """A conditional write lost a race (ETag mismatch or the row already exists)."""
