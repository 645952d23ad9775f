"""Call Automation behind a small interface; SDK errors become AcsError at this boundary."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any, Awaitable, Callable, Protocol, TypeVar

# The SDK's own raw-id parser; it is not re-exported by the package (pinned in requirements.txt).
from azure.communication.callautomation._shared.models import identifier_from_raw_id
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.communication.callautomation.aio import CallAutomationClient
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from shared.domain.identifiers import Identifier
from shared.errors import AcsError

T = TypeVar("T")
_REPEATABILITY_PURPOSE = b"callsteer/repeatability/v1:"
# ACS tracks a repeatable request for 5 minutes; a Repeatability-First-Sent older than that is answered 412
# (learn.microsoft.com/rest/api/communication/repeatable-requests).
REPEATABILITY_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Repeatability:
    """ACS's idempotency headers: a repeated request with the same id is answered once, acted on once."""

    request_id: str
    first_sent: datetime

    @classmethod
    def for_key(cls, key: str, first_sent: datetime) -> "Repeatability":
        """Derive the request id from a stable key, so a redelivered event repeats the same request.

        The spec asks for "a version 4 (random) UUID": the id is 122 bits of SHA-256 of the key with the
        version (4) and variant (RFC 4122) bits set, so it has the v4 form and stays the same for the same key.
        """
        digest = hashlib.sha256(_REPEATABILITY_PURPOSE + key.encode()).digest()
        return cls(str(uuid.UUID(bytes=digest[:16], version=4)), first_sent)

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

    async def create_call(self, targets: tuple[Identifier, ...], callback_url: str, caller_id: str | None,
                          display_name: str | None, operation_context: str, repeat: Repeatability) -> Connection: ...

    async def connect(self, locator_kind: str, locator_id: str, callback_url: str, operation_context: str,
                      repeat: Repeatability) -> Connection: ...

    async def transfer(self, call_connection_id: str, target: Identifier, transferee: Identifier | None,
                       sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None,
                       operation_context: str, repeat: Repeatability) -> None: ...

    async def add_participant(self, call_connection_id: str, target: Identifier, caller_id: str | None,
                              display_name: str | None, invitation_timeout: int | None,
                              sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None,
                              operation_context: str, repeat: Repeatability) -> str: ...

    async def cancel_add_participant(self, call_connection_id: str, invitation_id: str, operation_context: str,
                                     repeat: Repeatability) -> None: ...

    async def remove_participant(self, call_connection_id: str, target: Identifier, operation_context: str,
                                 repeat: Repeatability) -> None: ...

    async def hang_up(self, call_connection_id: str, for_everyone: bool, repeat: Repeatability) -> None: ...

    async def call_state(self, call_connection_id: str) -> str | None:
        """The call's state as ACS knows it, or None when ACS does not know the call (any more)."""


def _numeric_code(error: Any) -> int | None:
    """The service's numeric detail code (8501, 8522, ...): error.code when it is a number, else the innermost
    innererror.code that is one. CommunicationError has no subCode field."""
    found = None
    depth = 0
    while isinstance(error, dict) and depth < 8:
        code = error.get("code")
        if isinstance(code, str) and code.isdigit() and len(code) <= 9:
            found = int(code)
        elif isinstance(code, int) and not isinstance(code, bool):
            found = code
        error, depth = error.get("innererror"), depth + 1
    return found


def _acs_error(exc: Exception, action: str, repeatable: bool = True) -> AcsError:
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
            sub_code = _numeric_code(error)
        status = exc.status_code
        return AcsError(f"{action} failed: ACS answered {status} {code or ''} {message}".strip(), status=status,
                        code=code, sub_code=sub_code, retryable=status == 429 or status >= 500,
                        in_progress=repeatable and status == 409)
    return AcsError(f"{action} failed: ACS unreachable ({type(exc).__name__})", status=None, retryable=True)


def to_sdk_identifier(identifier: Identifier) -> Any:
    return identifier_from_raw_id(identifier.raw_id)


class AcsCallControl:
    """CallControl on the azure-communication-callautomation async client."""

    def __init__(self, client: CallAutomationClient) -> None:
        self._client = client

    async def close(self) -> None:
        await self._client.close()

    async def _send(self, action: str, request: Callable[[], Awaitable[T]], repeatable: bool = True) -> T:
        try:
            return await request()
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise _acs_error(exc, action, repeatable) from exc

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

    async def create_call(self, targets: tuple[Identifier, ...], callback_url: str, caller_id: str | None,
                          display_name: str | None, operation_context: str, repeat: Repeatability) -> Connection:
        sdk_targets = [to_sdk_identifier(t) for t in targets]
        props = await self._send("CreateCall", lambda: self._client.create_call(
            sdk_targets[0] if len(sdk_targets) == 1 else sdk_targets, callback_url,
            source_caller_id_number=PhoneNumberIdentifier(caller_id) if caller_id else None,
            source_display_name=display_name, operation_context=operation_context, headers=repeat.headers()))
        return Connection(props.call_connection_id, props.server_call_id, props.correlation_id)

    async def connect(self, locator_kind: str, locator_id: str, callback_url: str, operation_context: str,
                      repeat: Repeatability) -> Connection:
        locator = {"serverCall": "server_call_id", "groupCall": "group_call_id", "room": "room_id"}[locator_kind]
        props = await self._send("Connect", lambda: self._client.connect_call(
            callback_url, operation_context=operation_context, headers=repeat.headers(), **{locator: locator_id}))
        return Connection(props.call_connection_id, props.server_call_id, props.correlation_id)

    async def transfer(self, call_connection_id: str, target: Identifier, transferee: Identifier | None,
                       sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None,
                       operation_context: str, repeat: Repeatability) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        await self._send("TransferToParticipant", lambda: connection.transfer_call_to_participant(
            to_sdk_identifier(target), operation_context=operation_context,
            transferee=to_sdk_identifier(transferee) if transferee else None, sip_headers=sip_headers or None,
            voip_headers=voip_headers or None, headers=repeat.headers()))

    async def add_participant(self, call_connection_id: str, target: Identifier, caller_id: str | None,
                              display_name: str | None, invitation_timeout: int | None,
                              sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None,
                              operation_context: str, repeat: Repeatability) -> str:
        connection = self._client.get_call_connection(call_connection_id)
        result = await self._send("AddParticipant", lambda: connection.add_participant(
            to_sdk_identifier(target), invitation_timeout=invitation_timeout, operation_context=operation_context,
            source_caller_id_number=PhoneNumberIdentifier(caller_id) if caller_id else None,
            source_display_name=display_name, sip_headers=sip_headers or None, voip_headers=voip_headers or None,
            headers=repeat.headers()))
        return result.invitation_id

    async def cancel_add_participant(self, call_connection_id: str, invitation_id: str, operation_context: str,
                                     repeat: Repeatability) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        await self._send("CancelAddParticipant", lambda: connection.cancel_add_participant_operation(
            invitation_id, operation_context=operation_context, headers=repeat.headers()))

    async def remove_participant(self, call_connection_id: str, target: Identifier, operation_context: str,
                                 repeat: Repeatability) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        await self._send("RemoveParticipant", lambda: connection.remove_participant(
            to_sdk_identifier(target), operation_context=operation_context, headers=repeat.headers()))

    async def hang_up(self, call_connection_id: str, for_everyone: bool, repeat: Repeatability) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        # Terminate takes repeatability headers; the DELETE that removes only the app takes none.
        headers = repeat.headers() if for_everyone else None
        await self._send("TerminateCall" if for_everyone else "HangupCall", lambda: connection.hang_up(
            for_everyone, **({"headers": headers} if headers else {})), repeatable=for_everyone)

    async def call_state(self, call_connection_id: str) -> str | None:
        connection = self._client.get_call_connection(call_connection_id)
        try:
            props = await self._send("GetCall", connection.get_call_properties, repeatable=False)
        except AcsError as exc:
            if exc.status == 404:
                return None
            raise
        return str(props.call_connection_state or "")
