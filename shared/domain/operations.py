"""Operations: every action the app sends, pending until the event that closes it arrives. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

ANSWER = "answer"
CREATE_CALL = "createCall"
CONNECT = "connect"
TRANSFER = "transfer"
ADD_PARTICIPANT = "addParticipant"
CANCEL_ADD_PARTICIPANT = "cancelAddParticipant"
REMOVE_PARTICIPANT = "removeParticipant"
HANG_UP = "hangUp"
REJECT = "reject"
REDIRECT = "redirect"
# Media and recording actions of call flows.
PLAY = "play"
RECOGNIZE = "recognize"
HOLD = "hold"
UNHOLD = "unhold"
START_RECORDING = "startRecording"
STOP_RECORDING = "stopRecording"
ACTIONS = (ANSWER, REJECT, REDIRECT, CREATE_CALL, CONNECT, TRANSFER, ADD_PARTICIPANT, CANCEL_ADD_PARTICIPANT,
           REMOVE_PARTICIPANT, HANG_UP, PLAY, RECOGNIZE, HOLD, UNHOLD, START_RECORDING, STOP_RECORDING)
# Actions the service drops when the call ends: still pending then, they are recorded as cancelled.
_ENDED_WITH_THE_CALL = (ADD_PARTICIPANT, PLAY, RECOGNIZE, HOLD, START_RECORDING)

# Which event closes which action, and how: event name -> (actions it can close, resulting status).
RESULTS: dict[str, tuple[tuple[str, ...], str]] = {
    "CallConnected": ((ANSWER, CREATE_CALL, CONNECT), SUCCEEDED),
    "AnswerFailed": ((ANSWER,), FAILED),
    "CreateCallFailed": ((CREATE_CALL,), FAILED),
    "ConnectFailed": ((CONNECT,), FAILED),
    "AddParticipantSucceeded": ((ADD_PARTICIPANT,), SUCCEEDED),
    "AddParticipantFailed": ((ADD_PARTICIPANT,), FAILED),
    "CancelAddParticipantSucceeded": ((CANCEL_ADD_PARTICIPANT,), SUCCEEDED),
    "CancelAddParticipantFailed": ((CANCEL_ADD_PARTICIPANT,), FAILED),
    "RemoveParticipantSucceeded": ((REMOVE_PARTICIPANT,), SUCCEEDED),
    "RemoveParticipantFailed": ((REMOVE_PARTICIPANT,), FAILED),
    "CallTransferAccepted": ((TRANSFER,), SUCCEEDED),
    "CallTransferFailed": ((TRANSFER,), FAILED),
    "PlayCompleted": ((PLAY,), SUCCEEDED),
    "PlayFailed": ((PLAY,), FAILED),
    "PlayCanceled": ((PLAY,), CANCELLED),
    "RecognizeCompleted": ((RECOGNIZE,), SUCCEEDED),
    "RecognizeFailed": ((RECOGNIZE,), FAILED),
    "RecognizeCanceled": ((RECOGNIZE,), CANCELLED),
    "HoldFailed": ((HOLD,), FAILED),
    "StartRecordingFailed": ((START_RECORDING,), FAILED),
}
# What of an event's detail an operation keeps in its result (the digit a caller pressed).
_KEPT_DETAIL = ("digits", "failedPlaySourceIndex")
MAX_OPERATIONS = 100


@dataclass(frozen=True)
class Operation:
    """One action the app sent and what became of it."""

    context: str
    action: str
    status: str
    created_at: datetime
    updated_at: datetime
    source: str = "api"  # "api", "rule" (a routing decision) or "plan" (a rule's follow-up)
    target: str | None = None
    invitation_id: str | None = None
    result: dict[str, Any] | None = None
    # For transfers: the participant moved away; None for a 1:1 transfer, which hands the whole call on.
    transferee: str | None = None
    # When ACS accepted the request (its HTTP response); None while it may not have been sent at all.
    accepted_at: datetime | None = None
    # For startRecording: the recording's id, from ACS's answer (RecordingStateChanged names it).
    recording_id: str | None = None
    # For plan steps: what was asked of ACS (so a step ACS never accepted can be sent again as it was).
    request: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        entry = {"operationContext": self.context, "action": self.action, "status": self.status,
                 "source": self.source, "target": self.target, "transferee": self.transferee,
                 "invitationId": self.invitation_id,
                 "result": self.result, "createdAt": self.created_at.isoformat(),
                 "updatedAt": self.updated_at.isoformat(),
                 "acceptedAt": self.accepted_at.isoformat() if self.accepted_at else None,
                 "recordingId": self.recording_id, "request": self.request}
        return {k: v for k, v in entry.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any], parse_time) -> "Operation":
        return cls(context=data["operationContext"], action=data["action"], status=data["status"],
                   created_at=parse_time(data["createdAt"]), updated_at=parse_time(data["updatedAt"]),
                   source=data.get("source", "api"), target=data.get("target"),
                   invitation_id=data.get("invitationId"), result=data.get("result"),
                   transferee=data.get("transferee"),
                   accepted_at=parse_time(data["acceptedAt"]) if data.get("acceptedAt") else None,
                   recording_id=data.get("recordingId"), request=data.get("request"))


def close_by_event(operations: tuple[Operation, ...], event_name: str, context: str | None,
                   result: dict[str, Any] | None, now: datetime, invitation_id: str | None = None,
                   detail: dict[str, Any] | None = None) -> tuple[Operation, ...]:
    """Apply a result event to the operations: the pending one it closes becomes succeeded or failed."""
    changed = list(operations)
    closing = RESULTS.get(event_name)
    detail = detail or {}
    kept = {key: detail[key] for key in _KEPT_DETAIL if key in detail}
    if kept:
        result = {**(result or {}), **kept}
    for i, op in enumerate(changed):
        if event_name == "HoldFailed" and op.action == HOLD and op.context == context and op.status == SUCCEEDED:
            # Hold is answered 200 at once; a HoldFailed after that (the music could not play) is the outcome.
            changed[i] = replace(op, status=FAILED, result=result, updated_at=now)
            continue
        if op.final:
            continue
        if event_name == "RecordingStateChanged" and op.action == START_RECORDING \
                and op.recording_id is not None and op.recording_id == detail.get("recordingId"):
            # Recording events carry no operation context: the recording id names the request.
            if detail.get("recordingState") == "active":
                changed[i] = replace(op, status=SUCCEEDED, result=result, updated_at=now)
            continue
        if closing and op.context == context and op.action in closing[0]:
            changed[i] = replace(op, status=closing[1], result=result, updated_at=now)
        elif event_name == "CallDisconnected" and op.action == HANG_UP:
            # Hang-up requests carry no operation context; the call ending is their result.
            changed[i] = replace(op, status=SUCCEEDED, result=result, updated_at=now)
        elif event_name == "CancelAddParticipantSucceeded" and op.action == ADD_PARTICIPANT \
                and invitation_id is not None and op.invitation_id == invitation_id:
            changed[i] = replace(op, status=CANCELLED, result=result, updated_at=now)
        elif event_name == "CallDisconnected" and op.action in _ENDED_WITH_THE_CALL:
            # The call ended: the service drops its pending invitations and media operations with it.
            changed[i] = replace(op, status=CANCELLED, result={"message": "the call ended"}, updated_at=now)
    return tuple(changed)


def find(operations: tuple[Operation, ...], context: str) -> Operation | None:
    return next((op for op in operations if op.context == context), None)


def upsert(operations: tuple[Operation, ...], operation: Operation) -> tuple[Operation, ...]:
    """Add an operation, or replace the one with its context."""
    kept = tuple(op for op in operations if op.context != operation.context)
    return (kept + (operation,))[-MAX_OPERATIONS:]
