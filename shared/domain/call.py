"""A call's state and the state machine that callback events drive: pure, no I/O, the clock passed in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.domain import operations as ops
from shared.domain.events import (
    CallConnected, CallEvent, CallTransferAccepted, CancelAddParticipantSucceeded, ParticipantsUpdated, PlayFailed,
    RecognizeCompleted, RecognizeFailed, RecordingStateChanged, ResultInformation,
)
from shared.domain.operations import Operation
from shared.domain.steps import stored_plan

INBOUND = "inbound"
OUTBOUND = "outbound"
DIRECTIONS = (INBOUND, OUTBOUND)

CONNECTING = "connecting"
CONNECTED = "connected"
TRANSFERRED = "transferred"
DISCONNECTED = "disconnected"
FAILED = "failed"
REJECTED = "rejected"
REDIRECTED = "redirected"
STATES = (CONNECTING, CONNECTED, TRANSFERRED, DISCONNECTED, FAILED, REJECTED, REDIRECTED)
# Once a call is in one of these, no event brings it back: late or repeated events only join its log.
TERMINAL = frozenset({TRANSFERRED, DISCONNECTED, FAILED, REJECTED, REDIRECTED})

# The state machine, as a table: (state, event name) -> next state. Pairs not listed leave the state as it is.
TRANSITIONS: dict[tuple[str, str], str] = {
    (CONNECTING, "CallConnected"): CONNECTED,
    (CONNECTING, "AnswerFailed"): FAILED,
    (CONNECTING, "CreateCallFailed"): FAILED,
    (CONNECTING, "ConnectFailed"): FAILED,
    (CONNECTING, "CallDisconnected"): DISCONNECTED,
    (CONNECTED, "CallDisconnected"): DISCONNECTED,
    (CONNECTED, "CallTransferAccepted"): TRANSFERRED,
}


def next_state(state: str, event: CallEvent, group_transfer: bool = False) -> str:
    """The state after an event: the table's entry, or the same state; terminal states never change."""
    if state in TERMINAL:
        return state
    if isinstance(event, CallTransferAccepted) and group_transfer:
        # A transfer with a transferee moves one participant of a group call away; the app stays in the call.
        return state
    return TRANSITIONS.get((state, event.name), state)


@dataclass(frozen=True)
class EventRecord:
    """One entry of a call's event log, in the order the app received the events."""

    seq: int
    id: str
    type: str
    time: datetime
    operation_context: str | None = None
    result: ResultInformation | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # When the app applied it, on the app's clock (`time` is ACS's): orders events against the app's actions.
    received_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"seq": self.seq, "type": self.type, "id": self.id, "time": self.time.isoformat()}
        if self.received_at:
            entry["receivedAt"] = self.received_at.isoformat()
        if self.operation_context:
            entry["operationContext"] = self.operation_context
        if self.result:
            entry["resultInformation"] = self.result.to_dict()
        entry.update(self.detail)
        return entry


@dataclass(frozen=True)
class Call:
    """Everything the app keeps about one call, stored as one row plus one row per event."""

    id: str
    call_key: str
    direction: str
    state: str
    started_at: datetime
    updated_at: datetime
    call_connection_id: str | None = None
    server_call_id: str | None = None
    correlation_id: str | None = None
    from_: str | None = None
    to: str | None = None
    caller_display_name: str | None = None
    decision: dict[str, Any] | None = None
    participants: tuple[str, ...] = ()
    participants_seq: int | None = None
    last_result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    ended_at: datetime | None = None
    event_count: int = 0
    operations: tuple[Operation, ...] = ()
    plan: dict[str, Any] | None = None
    plan_state: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """The call as the state API shows it (without its event log)."""
        return {
            "id": self.id,
            "callConnectionId": self.call_connection_id,
            "correlationId": self.correlation_id,
            "serverCallId": self.server_call_id,
            "direction": self.direction,
            "state": self.state,
            "from": self.from_,
            "to": self.to,
            "callerDisplayName": self.caller_display_name,
            "participants": list(self.participants),
            "decision": self.decision,
            "lastResult": self.last_result,
            "error": self.error,
            "startedAt": self.started_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "operations": [op.to_dict() for op in self.operations],
            "plan": self.plan,
            "planState": self.plan_state,
            "voicemail": (self.plan_state or {}).get("voicemail"),
        }


def fallback_caller_id(call: Call, configured: str | None) -> str | None:
    """The caller id for the app's invitations to phone numbers from this call when none is given.

    ACS refuses to dial a phone number without one, and it must be a number of this resource. For an inbound call to
    one of the resource's numbers that is the number the caller dialled (sure to be owned, and it tells the person
    invited which line rang); for a call the app placed from a number, that number; otherwise ACS_CALLER_ID.
    """
    if call.direction == INBOUND and call.to and call.to.startswith("+"):
        return call.to
    if call.direction == OUTBOUND and call.from_ and call.from_.startswith("+"):
        return call.from_
    return configured


def new_call_from_event(event: CallEvent, call_key: str, now: datetime) -> Call:
    """A call first heard of through a callback (it raced ahead of the app's own record): connecting."""
    return Call(
        id=event.call_connection_id, call_key=call_key, direction=INBOUND, state=CONNECTING, started_at=now,
        updated_at=now, call_connection_id=event.call_connection_id, server_call_id=event.server_call_id,
        correlation_id=event.correlation_id,
    )


def _event_detail(event: CallEvent) -> dict[str, Any]:
    if isinstance(event, RecognizeCompleted):
        return {"digits": event.digits}
    if isinstance(event, (PlayFailed, RecognizeFailed)) and event.failed_play_source_index is not None:
        return {"failedPlaySourceIndex": event.failed_play_source_index}
    if isinstance(event, RecordingStateChanged):
        return {k: v for k, v in (("recordingId", event.recording_id), ("recordingState", event.recording_state))
                if v is not None}
    if isinstance(event, ParticipantsUpdated):
        return {"participants": [p.raw_id for p in event.participants], "sequenceNumber": event.sequence_number}
    for attr, key in (("participant", "participant"), ("invitation_id", "invitationId"),
                      ("transfer_target", "transferTarget"), ("transferee", "transferee")):
        value = getattr(event, attr, None)
        if value is not None:
            return {key: getattr(value, "raw_id", value)}
    return {}


def apply_event(call: Call, event: CallEvent, now: datetime) -> tuple[Call, EventRecord]:
    """Fold one callback event into the call; returns the new call and the event's log entry."""
    record = EventRecord(seq=call.event_count + 1, id=event.id, type=event.name, time=event.time,
                         operation_context=event.operation_context, result=event.result, detail=_event_detail(event),
                         received_at=now)
    transfer = ops.find(call.operations, event.operation_context or "") if isinstance(event, CallTransferAccepted) else None
    state = next_state(call.state, event, group_transfer=bool(transfer and transfer.transferee))
    changes: dict[str, Any] = {
        "state": state,
        "updated_at": now,
        "event_count": record.seq,
        "call_connection_id": call.call_connection_id or event.call_connection_id,
        "server_call_id": call.server_call_id or event.server_call_id,
        "correlation_id": call.correlation_id or event.correlation_id,
    }
    if event.result is not None:
        changes["last_result"] = {"event": event.name, **event.result.to_dict()}
    invitation_id = event.invitation_id if isinstance(event, CancelAddParticipantSucceeded) else None
    changes["operations"] = ops.close_by_event(call.operations, event.name, event.operation_context,
                                               event.result.to_dict() if event.result else None, now, invitation_id,
                                               record.detail)
    # Even after the call ended: the list with the highest sequence number is the last one, whatever the order.
    if isinstance(event, ParticipantsUpdated):
        newer = (call.participants_seq is None or event.sequence_number is None
                 or event.sequence_number > call.participants_seq)
        if newer:
            changes["participants"] = tuple(p.raw_id for p in event.participants)
            changes["participants_seq"] = event.sequence_number
    if isinstance(event, CallConnected) and call.state == CONNECTING:
        changes["error"] = None
    if state in TERMINAL and call.ended_at is None:
        changes["ended_at"] = event.time
    return replace(call, **changes), record


def decision_to_dict(decision: Any) -> dict[str, Any]:
    """How a routing decision is recorded: action, rule, and reason, target or plan."""
    recorded: dict[str, Any] = {"action": decision.action, "rule": decision.rule}
    if decision.action == "reject":
        recorded["reason"] = decision.reason
    elif decision.action == "redirect":
        recorded["target"] = decision.target.display
    elif decision.action == "answer" and decision.plan is not None:
        recorded["plan"] = decision.plan.to_dict()
    return recorded


_DECIDED_STATE = {"answer": CONNECTING, "reject": REJECTED, "redirect": REDIRECTED}


def call_from_decision(incoming: Any, decision: Any, call_key: str, now: datetime,
                       call_connection_id: str | None = None, error: dict[str, Any] | None = None) -> Call:
    """The record of an inbound call once its decision was carried out (or failed, with `error`)."""
    state = FAILED if error else _DECIDED_STATE[decision.action]
    # Answer is closed by CallConnected or AnswerFailed; reject and redirect by their HTTP response.
    status = ops.FAILED if error else (ops.PENDING if decision.action == "answer" else ops.SUCCEEDED)
    operation = Operation(context=answer_context(decision.rule) if decision.action == "answer" else decision.action,
                          action=decision.action, status=status, created_at=incoming.event_time, updated_at=now,
                          source="rule", target=decision_to_dict(decision).get("target"), result=error)
    plan = stored_plan(decision.plan, decision.flows) if getattr(decision, "plan", None) else None
    return Call(
        id=call_connection_id or call_key,
        call_key=call_key,
        direction=INBOUND,
        state=state,
        started_at=incoming.event_time,
        updated_at=now,
        call_connection_id=call_connection_id,
        server_call_id=incoming.server_call_id,
        correlation_id=incoming.correlation_id,
        from_=incoming.from_.display,
        to=incoming.to.display,
        caller_display_name=incoming.caller_display_name,
        decision=decision_to_dict(decision),
        error=error,
        ended_at=now if state in TERMINAL else None,
        operations=(operation,),
        plan=plan,
        plan_state={"phase": "waiting"} if plan and not error else None,
    )


def answer_context(rule: str) -> str:
    """The operation context of a rule's answer: CallConnected and AnswerFailed carry it back."""
    return f"answer:{rule}"


def merge_declared(existing: Call, declared: Call, events: list[EventRecord], now: datetime) -> Call:
    """A call the app declared (a decision, a created call) merged into the row a racing callback made first.

    The callbacks' view of the call (state, participants, log) stays; the app's own facts (direction,
    parties, decision, plan, operations) are added, and the operations are closed by the events already in.
    """
    operations = declared.operations
    for record in sorted(events, key=lambda r: r.seq):
        operations = ops.close_by_event(operations, record.type, record.operation_context,
                                        record.result.to_dict() if record.result else None, now,
                                        record.detail.get("invitationId"), record.detail)
    known = {op.context for op in operations}
    operations = tuple(op for op in existing.operations if op.context not in known) + operations
    return replace(
        existing,
        call_key=declared.call_key,
        direction=declared.direction,
        from_=declared.from_ or existing.from_,
        to=declared.to or existing.to,
        caller_display_name=declared.caller_display_name or existing.caller_display_name,
        decision=declared.decision or existing.decision,
        server_call_id=existing.server_call_id or declared.server_call_id,
        correlation_id=existing.correlation_id or declared.correlation_id,
        started_at=min(existing.started_at, declared.started_at),
        error=declared.error or existing.error,
        operations=operations,
        plan=declared.plan or existing.plan,
        plan_state=existing.plan_state or declared.plan_state,
        updated_at=now,
    )


def acs_says_ended(acs_state: str | None) -> bool:
    """Whether ACS's answer to GetCall means the call is over: it no longer knows the call (None: 404), or it
    still knows it as `disconnected` (the spec's CallConnectionStateModel). Any other state is alive."""
    return acs_state is None or acs_state == DISCONNECTED


def reconcile_ended(call: Call, now: datetime, reason: str) -> tuple[Call, EventRecord]:
    """A live call that ACS no longer knows: it ended without the app hearing CallDisconnected."""
    record = EventRecord(seq=call.event_count + 1, id=f"reconciled:{call.id}:{now.isoformat()}", type="Reconciled",
                         time=now, detail={"reason": reason}, received_at=now)
    operations = ops.close_by_event(call.operations, "CallDisconnected", None,
                                    {"message": f"reconciled: {reason}"}, now)
    return replace(call, state=DISCONNECTED, ended_at=now, updated_at=now, event_count=record.seq,
                   operations=operations), record
