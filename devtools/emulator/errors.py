"""ACS-style REST errors: one exception, rendered as a CommunicationErrorResponse."""

from __future__ import annotations

from typing import Any, Mapping

# Error codes the emulator answers with (CommunicationError.code). The public Call Automation
# troubleshooting table names the statuses (400 bad request, 401 HMAC failure, 404 call not
# found, 429 with Retry-After, 500, 502); the code strings are the emulator's own.
BAD_REQUEST = "BadRequest"
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "NotFound"
STATUS_CODES: Mapping[int, str] = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    403: "Forbidden",
    404: NOT_FOUND,
    408: "RequestTimeout",
    409: "Conflict",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class AcsError(Exception):
    """A REST failure with its HTTP status and CommunicationError body."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: Mapping[str, str] | None = None, sub_code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, str(status))
        self.message = message
        self.headers = dict(headers or {})
        self.sub_code = sub_code

    def body(self) -> dict[str, Any]:
        """The CommunicationErrorResponse JSON."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.sub_code is not None:
            # CommunicationError has no subCode field; the inner error is where a detail code fits.
            error["innererror"] = {"code": str(self.sub_code), "message": f"subCode {self.sub_code}"}
        return {"error": error}


# Call Automation's numeric codes for acting on a call that is over (learn.microsoft.com/azure/communication-services/
# resources/troubleshooting/voice-video-calling/troubleshooting-codes): 400/8501 "Action is invalid when call is not
# in Established state", 404/8522 "Call not found". CommunicationError defines one code field; the numeric code is
# put there (the docs do not show the body).
NOT_ESTABLISHED = "8501"
CALL_NOT_FOUND = "8522"


def not_established(message: str = "Action is invalid when call is not in Established state.") -> AcsError:
    """400/8501: the call connection exists but has ended (or is not established)."""
    return AcsError(400, f"{message} DiagCode: 400#8501.@", NOT_ESTABLISHED)


def call_not_found(call_connection_id: str) -> AcsError:
    """404/8522: the service does not know (any more) this call connection."""
    return AcsError(404, f"Call {call_connection_id} not found. DiagCode: 404#8522.@", CALL_NOT_FOUND)


def bad_request(message: str, code: str = BAD_REQUEST) -> AcsError:
    """A 400 for an invalid request."""
    return AcsError(400, message, code)


def not_found(message: str) -> AcsError:
    """A 404 for an unknown (or already ended) call, participant or route."""
    return AcsError(404, message, NOT_FOUND)
