"""Follow-up plans of answered calls (transfer, ring groups, fallbacks), decided from stored state alone. Pure.

`advance` looks at a call (its plan, state, participants and operations) and returns the call with the next
actions recorded as pending operations, plus the commands to send. Because the commands are saved with
the event that caused them, in one write, a repeated event (which fails that write) repeats no command,
and any instance can carry a plan on from where another left it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.domain import operations as ops
from shared.domain.operations import Operation

# Plan phases, kept in the call's plan state.
WAITING = "waiting"        # answered, not connected yet
RINGING = "ringing"        # invitations out
TRANSFERRING = "transferring"
FALLBACK = "fallback"
DONE = "done"


@dataclass(frozen=True)
class AddParticipant:
    context: str
    target: str
    timeout_seconds: int | None
    caller_id: str | None


@dataclass(frozen=True)
class CancelAddParticipant:
    context: str
    invitation_id: str


@dataclass(frozen=True)
class RemoveParticipant:
    context: str
    target: str


@dataclass(frozen=True)
class Transfer:
    context: str
    target: str


@dataclass(frozen=True)
class HangUp:
    context: str
    for_everyone: bool


Command = AddParticipant | CancelAddParticipant | RemoveParticipant | Transfer | HangUp


def step_context(call_id: str, step: str) -> str:
    """A plan step's operation context: stable per call and step, so retries reuse it."""
    digest = hashlib.sha256(f"{call_id}:{step}".encode()).hexdigest()[:8]
    return f"plan:{step}:{digest}"


def _pending(call: Any, command: Command, action: str, target: str | None, now: datetime) -> Any:
    operation = Operation(context=command.context, action=action, status=ops.PENDING, created_at=now,
                          updated_at=now, source="plan", target=target)
    return replace(call, operations=ops.upsert(call.operations, operation))


def _with_state(call: Any, **changes: Any) -> Any:
    return replace(call, plan_state={**(call.plan_state or {}), **changes})


def _ring_ops(call: Any) -> list[Operation]:
    return [op for op in call.operations if op.source == "plan" and op.action == ops.ADD_PARTICIPANT]


def _cancel_commands(call: Any, now: datetime, keep: str | None = None) -> tuple[Any, list[Command]]:
    """Cancel every pending ring invitation whose id is known and not cancelled yet."""
    commands: list[Command] = []
    requested = {op.target for op in call.operations if op.action == ops.CANCEL_ADD_PARTICIPANT}
    for op in _ring_ops(call):
        if op.status == ops.PENDING and op.invitation_id and op.context != keep and op.invitation_id not in requested:
            command = CancelAddParticipant(step_context(call.id, f"cancel-{op.invitation_id}"), op.invitation_id)
            call = _pending(call, command, ops.CANCEL_ADD_PARTICIPANT, op.invitation_id, now)
            commands.append(command)
    return call, commands


def _winner(call: Any, ring: list[Operation]) -> Operation | None:
    """The agent who keeps the call: the one recorded as winner, else the first answer the app applied."""
    chosen = (call.plan_state or {}).get("winner")
    answered = [op for op in ring if op.status == ops.SUCCEEDED]
    return next((op for op in answered if op.target == chosen), None) or next(iter(answered), None)


def _remove_late_answers(call: Any, ring: list[Operation], winner: Operation, now: datetime
                         ) -> tuple[Any, list[Command]]:
    """Two agents of a simultaneous ring can both answer (the cancel of the later one arrives after its answer and
    fails): the winner stays, every other agent who answered is removed from the call, once."""
    commands: list[Command] = []
    for op in ring:
        if op.status == ops.SUCCEEDED and op.context != winner.context:
            command = RemoveParticipant(step_context(call.id, f"remove-{op.context}"), op.target)
            if not ops.find(call.operations, command.context):
                call = _pending(call, command, ops.REMOVE_PARTICIPANT, op.target, now)
                commands.append(command)
    return call, commands


def _fallback(call: Any, plan: dict[str, Any], now: datetime) -> tuple[Any, list[Command]]:
    fallback = plan.get("fallback") or {}
    if "transfer" in fallback:
        command: Command = Transfer(step_context(call.id, "fallback-transfer"), fallback["transfer"])
        call = _pending(call, command, ops.TRANSFER, command.target, now)
    elif fallback.get("hangup"):
        command = HangUp(step_context(call.id, "fallback-hangup"), for_everyone=True)
        call = _pending(call, command, ops.HANG_UP, None, now)
    else:
        return _with_state(call, phase=DONE, outcome="unanswered"), []
    return _with_state(call, phase=FALLBACK, outcome="unanswered"), [command]


def _invite(call: Any, plan: dict[str, Any], index: int, now: datetime) -> tuple[Any, Command]:
    target = plan["ring"][index]
    command = AddParticipant(step_context(call.id, f"ring-{index}"), target, plan.get("timeoutSeconds"),
                             plan.get("callerId"))
    return _pending(call, command, ops.ADD_PARTICIPANT, target, now), command


def _caller_left(call: Any) -> bool:
    return bool(call.participants_seq is not None and call.from_ and call.participants
                and not any(p == call.from_ or p.endswith(":" + call.from_) for p in call.participants))


def advance(call: Any, now: datetime) -> tuple[Any, list[Command]]:
    """The call with its plan's next actions recorded as pending operations, and those actions as commands."""
    plan = call.plan
    state = call.plan_state or {}
    phase = state.get("phase", WAITING)
    if not plan or phase == DONE:
        return call, []
    if call.ended:
        return _with_state(call, phase=DONE), []
    if call.state != "connected":
        return call, []
    if phase == WAITING:
        if "transfer" in plan:
            command = Transfer(step_context(call.id, "transfer"), plan["transfer"])
            return _with_state(_pending(call, command, ops.TRANSFER, command.target, now), phase=TRANSFERRING), [command]
        if plan.get("strategy", "simultaneous") == "simultaneous":
            commands: list[Command] = []
            for index in range(len(plan["ring"])):
                call, command = _invite(call, plan, index, now)
                commands.append(command)
        else:
            call, command = _invite(call, plan, 0, now)
            commands = [command]
        return _with_state(call, phase=RINGING), commands
    if phase != RINGING:
        if phase in (TRANSFERRING, FALLBACK) and all(op.final for op in call.operations if op.source == "plan"):
            return _with_state(call, phase=DONE), []
        return call, []

    ring = _ring_ops(call)
    winner = _winner(call, ring)
    if winner is not None:
        call = _with_state(call, winner=winner.target, outcome="answered")
        call, commands = _cancel_commands(call, now, keep=winner.context)
        call, removals = _remove_late_answers(call, ring, winner, now)
        commands += removals
        if not commands and all(op.final for op in call.operations if op.source == "plan"):
            call = _with_state(call, phase=DONE)
        return call, commands
    if _caller_left(call):
        call, commands = _cancel_commands(call, now)
        hang_up = HangUp(step_context(call.id, "caller-left"), for_everyone=True)
        if not ops.find(call.operations, hang_up.context):
            call = _pending(call, hang_up, ops.HANG_UP, None, now)
            commands.append(hang_up)
        return _with_state(call, outcome="caller left"), commands
    if any(op.status == ops.PENDING for op in ring):
        return call, []
    if plan.get("strategy") == "sequential" and len(ring) < len(plan["ring"]):
        call, command = _invite(call, plan, len(ring), now)
        return call, [command]
    return _fallback(call, plan, now)


def unsent(call: Any) -> list[Command]:
    """The plan's steps recorded as pending that ACS never accepted: to send again (under the same
    repeatability id, so a step that did reach ACS is not carried out twice)."""
    plan = call.plan or {}
    commands: list[Command] = []
    for op in call.operations:
        if op.source != "plan" or op.status != ops.PENDING or op.accepted_at is not None:
            continue
        if op.action == ops.ADD_PARTICIPANT:
            commands.append(AddParticipant(op.context, op.target, plan.get("timeoutSeconds"), plan.get("callerId")))
        elif op.action == ops.CANCEL_ADD_PARTICIPANT:
            commands.append(CancelAddParticipant(op.context, op.target))
        elif op.action == ops.REMOVE_PARTICIPANT:
            commands.append(RemoveParticipant(op.context, op.target))
        elif op.action == ops.TRANSFER:
            commands.append(Transfer(op.context, op.target))
        elif op.action == ops.HANG_UP:
            commands.append(HangUp(op.context, for_everyone=True))
    return commands
