"""The emulator's own model of calls: waiting incoming calls, call connections, invitations, scripts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .identifiers import Identifier


class Outcome(str, Enum):
    """What a dialled target does when it rings."""

    ANSWER = "answer"
    DECLINE = "decline"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    RINGING = "ringing"  # rings until the test releases it (held.py)


@dataclass(frozen=True)
class TargetScript:
    """The scripted behaviour of one target raw id: its outcome after ringing delay_ms."""

    outcome: Outcome = Outcome.ANSWER
    delay_ms: int = 0


@dataclass(frozen=True)
class Fault:
    """An injected REST failure for the next `remaining` requests matching `operation` ("*" for any)."""

    operation: str
    status: int
    remaining: int
    retry_after: float | None = None
    code: str | None = None
    sub_code: int | None = None

    def matches(self, operation: str) -> bool:
        """True for "*", the spec's operationId, or its part after the group prefix ("AddParticipant")."""
        return self.operation in ("*", operation) or operation.endswith("_" + self.operation)


@dataclass(frozen=True)
class Participant:
    """A participant in a call connection."""

    identifier: Identifier
    is_muted: bool = False
    is_on_hold: bool = False

    def to_model(self) -> dict[str, Any]:
        """The spec's CallParticipant."""
        return {"identifier": self.identifier.to_model(), "isMuted": self.is_muted, "isOnHold": self.is_on_hold}


class IncomingCallState(str, Enum):
    """Where an incoming call stands, keyed by its incomingCallContext."""

    WAITING = "waiting"
    ANSWERED = "answered"
    REJECTED = "rejected"
    REDIRECTED = "redirected"


@dataclass
class IncomingCall:
    """A call ringing at the app's number, waiting for answer, reject or redirect."""

    context: str
    server_call_id: str
    correlation_id: str
    caller: Identifier
    callee: Identifier
    caller_display_name: str | None
    state: IncomingCallState = IncomingCallState.WAITING
    call_connection_id: str | None = None
    # Set for the legs the service raises for an app's own invitation: what caused it (AddParticipant, ...).
    raised_by: str | None = None
    # What became of the ringing leg (answer, decline, busy): an invitation to an owned number waits on it.
    fate: asyncio.Future[Outcome] | None = field(default=None, repr=False, compare=False)

    def settle(self, outcome: Outcome) -> None:
        """Record what became of this ringing call (first word wins)."""
        if self.fate is not None and not self.fate.done():
            self.fate.set_result(outcome)

    def to_json(self) -> dict[str, Any]:
        """Introspection view; the context stays out of it, like out of logs."""
        return {
            "serverCallId": self.server_call_id,
            "correlationId": self.correlation_id,
            "from": self.caller.raw_id,
            "to": self.callee.raw_id,
            "state": self.state.value,
            "callConnectionId": self.call_connection_id,
            "raisedBy": self.raised_by,
        }


class CallState(str, Enum):
    """The spec's CallConnectionStateModel."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    TRANSFERRING = "transferring"
    TRANSFER_ACCEPTED = "transferAccepted"
    DISCONNECTING = "disconnecting"
    DISCONNECTED = "disconnected"


class InvitationState(str, Enum):
    """Where an AddParticipant invitation stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Invitation:
    """A pending or completed AddParticipant invitation."""

    id: str
    target: Identifier
    operation_context: str | None
    callback_url: str
    state: InvitationState = InvitationState.PENDING
    task: asyncio.Task[Any] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Introspection view."""
        return {"invitationId": self.id, "target": self.target.raw_id, "state": self.state.value,
                "operationContext": self.operation_context}


@dataclass
class CallConnection:
    """The app's leg in a call, as ACS tracks it behind a callConnectionId."""

    id: str
    server_call_id: str
    correlation_id: str
    callback_uri: str
    origin: str
    source: Identifier | None = None
    targets: list[Identifier] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    state: CallState = CallState.CONNECTING
    operation_context: str | None = None
    answered_for: Identifier | None = None
    source_caller_id: Identifier | None = None
    source_display_name: str | None = None
    api_version: str = ""
    sequence_number: int = 0
    invitations: dict[str, Invitation] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        """True until the call is disconnected for the app."""
        return self.state not in (CallState.DISCONNECTING, CallState.DISCONNECTED)

    def participant(self, raw_id: str) -> Participant | None:
        """The participant with this raw id, if in the call."""
        return next((p for p in self.participants if p.identifier.raw_id == raw_id), None)

    def next_sequence_number(self) -> int:
        """Advance and return the ParticipantsUpdated sequence number."""
        self.sequence_number += 1
        return self.sequence_number

    def properties(self) -> dict[str, Any]:
        """The spec's CallConnectionProperties."""
        body: dict[str, Any] = {
            "callConnectionId": self.id,
            "serverCallId": self.server_call_id,
            "targets": [t.to_model() for t in self.targets],
            "callConnectionState": self.state.value,
            "callbackUri": self.callback_uri,
            "correlationId": self.correlation_id,
        }
        if self.source is not None:
            body["source"] = self.source.to_model()
        if self.source_caller_id is not None:
            body["sourceCallerIdNumber"] = {"value": self.source_caller_id.phone_number}
        if self.source_display_name is not None:
            body["sourceDisplayName"] = self.source_display_name
        if self.answered_for is not None and self.answered_for.phone_number:
            body["answeredFor"] = {"value": self.answered_for.phone_number}
        return body

    def to_json(self) -> dict[str, Any]:
        """Introspection view: properties plus participants and invitations."""
        return {
            **self.properties(),
            "origin": self.origin,
            "operationContext": self.operation_context,
            "participants": [p.to_model() for p in self.participants],
            "sequenceNumber": self.sequence_number,
            "invitations": [i.to_json() for i in self.invitations.values()],
        }
