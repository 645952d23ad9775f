"""Call Automation behind a small interface; SDK errors become AcsError at this boundary."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Awaitable, Callable, Protocol, TypeVar

# The SDK's own raw-id parser; it is not re-exported by the package (pinned in requirements.txt).
from azure.communication.callautomation._shared.models import identifier_from_raw_id
from azure.communication.callautomation.aio import CallAutomationClient
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from shared.domain.identifiers import Identifier
from shared.errors import AcsError

T = TypeVar("T")
_REPEATABILITY_NAMESPACE = uuid.UUID("2f0c4d7e-6a63-4a39-9d0c-5f0cbb8f6a11")


@dataclass(frozen=True)
class Repeatability:
    """ACS's idempotency headers: a repeated request with the same id is answered once, acted on once."""

    request_id: str
    first_sent: datetime

    @classmethod
    def for_key(cls, key: str, first_sent: datetime) -> "Repeatability":
        """Derive the request id from a stable key, so a redelivered event repeats the same request."""
        return cls(str(uuid.uuid5(_REPEATABILITY_NAMESPACE, key)), first_sent)

    def headers(self) -> dict[str, str]:
        return {"Repeatability-Request-ID": self.request_id,
                "Repeatability-First-Sent": format_datetime(self.first_sent, usegmt=True)}


@dataclass(frozen=True)
class Connection:
    """What ACS returns for a call it connected (answer, create, connect)."""

    call_connection_id: str
    server_call_id: str | None
    correlation_id: str | None


class CallControl(Protocol):
    """The Call Automation actions the app takes."""

    async def answer(self, incoming_call_context: str, callback_url: str, operation_context: str,
                     repeat: Repeatability) -> Connection: ...

    async def reject(self, incoming_call_context: str, reason: str, repeat: Repeatability) -> None: ...

    async def redirect(self, incoming_call_context: str, target: Identifier, repeat: Repeatability) -> None: ...


def _acs_error(exc: Exception, action: str) -> AcsError:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code, sub_code, message = None, None, exc.reason or ""
        try:
            body = exc.response.json() if exc.response is not None else None
        except Exception:  # noqa: BLE001 - a non-JSON error body is still an error; keep the status
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
            code = error.get("code") if isinstance(error.get("code"), str) else None
            message = error.get("message") if isinstance(error.get("message"), str) else message
            sub_code = error.get("subCode") if isinstance(error.get("subCode"), int) else None
        status = exc.status_code
        return AcsError(f"{action} failed: ACS answered {status} {code or ''} {message}".strip(), status=status,
                        code=code, sub_code=sub_code, retryable=status == 429 or status >= 500)
    return AcsError(f"{action} failed: ACS unreachable ({type(exc).__name__})", status=None, retryable=True)


def to_sdk_identifier(identifier: Identifier) -> Any:
    return identifier_from_raw_id(identifier.raw_id)


class AcsCallControl:
    """CallControl on the azure-communication-callautomation async client."""

    def __init__(self, client: CallAutomationClient) -> None:
        self._client = client

    async def close(self) -> None:
        await self._client.close()

    async def _send(self, action: str, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise _acs_error(exc, action) from exc

    async def answer(self, incoming_call_context: str, callback_url: str, operation_context: str,
                     repeat: Repeatability) -> Connection:
        props = await self._send("AnswerCall", lambda: self._client.answer_call(
            incoming_call_context, callback_url, operation_context=operation_context, headers=repeat.headers()))
        return Connection(props.call_connection_id, props.server_call_id, props.correlation_id)

    async def reject(self, incoming_call_context: str, reason: str, repeat: Repeatability) -> None:
        await self._send("RejectCall", lambda: self._client.reject_call(
            incoming_call_context, call_reject_reason=reason, headers=repeat.headers()))

    async def redirect(self, incoming_call_context: str, target: Identifier, repeat: Repeatability) -> None:
        await self._send("RedirectCall", lambda: self._client.redirect_call(
            incoming_call_context, to_sdk_identifier(target), headers=repeat.headers()))
