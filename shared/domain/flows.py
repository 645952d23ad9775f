"""The flow engine: what an answered call does next, decided from its stored state alone. Pure.

`advance(call, now)` looks at a call (its stored plan, plan state, participants and operations) and returns the
call with the next actions recorded as pending operations, plus the commands to send. The commands are saved
with the event that caused them, in one write, so a repeated event (which fails that write) repeats no command,
and any instance carries a flow on from where another left it.

The stored plan is `{"step": STEP, "flows": {name: STEP}}` (see shared.domain.steps; a plan stored before flows
existed is a bare ring or transfer step). The plan state names the current step by its position in the plan
(`at`, e.g. `flows/main-menu/menu/options/1`) and its instance number `n`; every request of a step carries an
operation context naming both, so an event for a step the call has left is recorded on its operation and
otherwise ignored. `path` lists the steps the call went through (for the console and the state API).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from shared.domain import operations as ops
from shared.domain.commands import (
    AddParticipant, CancelAddParticipant, Command, HangUp, Hold, Play, Recognize, RemoveParticipant, StartRecording,
    StopRecording, Transfer, Unhold,
)
from shared.domain.operations import Operation

# Phases, kept in the call's plan state.
WAITING = "waiting"          # answered, not connected yet
PLAYING = "playing"
MENU = "menu"
RINGING = "ringing"          # a ring group's invitations are out
QUEUE = "queue"
VOICEMAIL = "voicemail"
TRANSFERRING = "transferring"
HANGING_UP = "hangingUp"
FALLBACK = "fallback"        # kept for plans stored before flows: their fallback phase
DONE = "done"
_PHASES = {"play": PLAYING, "menu": MENU, "ring": RINGING, "queue": QUEUE, "voicemail": VOICEMAIL,
           "transfer": TRANSFERRING, "hangup": HANGING_UP}

# RecognizeFailed subCodes that mean the caller pressed nothing in time (ACS troubleshooting codes:
# 8510 initial silence timeout, 8532 inter-digit timeout): the menu asks again.
NO_INPUT_SUBCODES = frozenset({8510, 8532})
# What ACS answers a request on a call that is over (troubleshooting codes): 400/8501 or 8528, 404/8522.
ENDED_CALL_SUBCODES = frozenset({8501, 8528, 8522})
MAX_PATH = 40            # entries of planState.path kept (oldest dropped first)
MAX_FLOW_HOPS = 64       # flow-to-flow jumps resolved in one go (loops without a menu are refused at load)
TIMER_SECONDS = 300      # the longest silent wait one recognize can hold (initialSilenceTimeoutInSeconds maximum)

_COMMANDS: dict[str, type] = {ops.ADD_PARTICIPANT: AddParticipant, ops.CANCEL_ADD_PARTICIPANT: CancelAddParticipant,
                              ops.REMOVE_PARTICIPANT: RemoveParticipant,
                              ops.TRANSFER: Transfer, ops.HANG_UP: HangUp, ops.PLAY: Play, ops.RECOGNIZE: Recognize,
                              ops.HOLD: Hold, ops.UNHOLD: Unhold, ops.START_RECORDING: StartRecording,
                              ops.STOP_RECORDING: StopRecording}
_ACTIONS = {cls: action for action, cls in _COMMANDS.items()}


def step_context(call_id: str, step: str) -> str:
    """A plan step's operation context: stable per call and step, so retries reuse it."""
    digest = hashlib.sha256(f"{call_id}:{step}".encode()).hexdigest()[:8]
    return f"plan:{step}:{digest}"


def _ctx(call: Any, n: int, label: str) -> str:
    # The rule's first step (n = 0) keeps the plain labels plans had before flows ("ring-0").
    return step_context(call.id, label if n == 0 else f"{n}-{label}")


def _plan(call: Any) -> dict[str, Any]:
    plan = call.plan or {}
    return plan if "step" in plan else {"step": plan, "flows": {}}


def _step_at(plan: dict[str, Any], at: str) -> dict[str, Any] | None:
    node: Any = plan
    for part in at.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _kind(step: dict[str, Any]) -> str:
    return next((k for k in ("play", "menu", "ring", "transfer", "hangup", "flow", "voicemail", "queue") if k in step),
                "hangup")


def _state(call: Any) -> dict[str, Any]:
    return dict(call.plan_state or {})


def _with_state(call: Any, **changes: Any) -> Any:
    return replace(call, plan_state={**(call.plan_state or {}), **changes})


def _note(call: Any, **entry: Any) -> Any:
    """Add an entry to the path the call took (bounded)."""
    path = list((call.plan_state or {}).get("path", []))
    path.append({k: v for k, v in entry.items() if v is not None})
    return _with_state(call, path=path[-MAX_PATH:])


def _pending(call: Any, command: Command, target: str | None, now: datetime) -> Any:
    request = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(command).items() if k != "context"}
    operation = Operation(context=command.context, action=_ACTIONS[type(command)], status=ops.PENDING,
                          created_at=now, updated_at=now, source="plan", target=target, request=request)
    return replace(call, operations=ops.upsert(call.operations, operation))


def _issue(call: Any, command: Command, now: datetime, target: str | None = None) -> tuple[Any, Command]:
    return _pending(call, command, target, now), command


def _caller(call: Any) -> str:
    return call.from_ or ""


def _caller_left(call: Any) -> bool:
    return bool(call.participants_seq is not None and call.from_ and call.participants
                and not any(p == call.from_ or p.endswith(":" + call.from_) for p in call.participants))


# ---- entering a step -----------------------------------------------------------------------------------------


def _enter(call: Any, at: str, now: datetime, n: int) -> tuple[Any, list[Command]]:
    """Start the step at `at` (following flow references) as step instance n."""
    plan = _plan(call)
    step = _step_at(plan, at)
    for _ in range(MAX_FLOW_HOPS):
        if step is None or "flow" not in step:
            break
        call = _note(call, n=n, at=at, kind="flow", flow=step["flow"])
        at = f"flows/{step['flow']}"
        step = _step_at(plan, at)
    if step is None or "flow" in step:
        # Only a plan stored by another version could get here: end the call rather than leave it hanging.
        call = _with_state(call, error={"step": at, "message": "the plan names a step it does not hold"})
        step, at = {"hangup": True}, at
    kind = _kind(step)
    state = {k: v for k, v in _state(call).items() if k in ("path", "error", "voicemail", "outcome", "winner")}
    state.update(phase=_PHASES.get(kind, DONE), n=n, at=at)
    call = replace(call, plan_state=state)
    call = _note(call, n=n, at=at, kind=kind)
    commands: list[Command] = []
    if kind == "hangup":
        call, command = _issue(call, HangUp(_ctx(call, n, "hangup"), for_everyone=True), now)
        commands.append(command)
    elif kind == "transfer":
        call, command = _issue(call, Transfer(_ctx(call, n, "transfer"), step["transfer"]), now, step["transfer"])
        commands.append(command)
    elif kind == "play":
        call, command = _issue(call, Play(_ctx(call, n, "play"), step["play"]), now, step["play"])
        commands.append(command)
    elif kind == "menu":
        call = _with_state(call, attempt=0)
        menu = step["menu"]
        call, command = _issue(call, Recognize(_ctx(call, n, "recognize-0"), _caller(call), (menu["prompt"],),
                                               menu.get("timeoutSeconds", 5)), now, _caller(call))
        commands.append(command)
    elif kind == "ring":
        call = _with_state(call, winner=None, outcome=None)
        indexes = range(len(step["ring"])) if step.get("strategy", "simultaneous") == "simultaneous" else [0]
        for i in indexes:
            call, command = _invite(call, n, f"ring-{i}", step["ring"][i], step.get("timeoutSeconds"),
                                    step.get("callerId"), now)
            commands.append(command)
    elif kind == "voicemail":
        call = _with_state(call, stage="greeting")
        call, command = _issue(call, Play(_ctx(call, n, "greeting"), step["voicemail"]["prompt"]), now,
                               step["voicemail"]["prompt"])
        commands.append(command)
    elif kind == "queue":
        queue = step["queue"]
        call = _with_state(call, round=0, winner=None, outcome=None)
        call, command = _issue(call, Hold(_ctx(call, n, "hold"), _caller(call), queue["music"]), now, _caller(call))
        commands.append(command)
        call, invites = _queue_round(call, queue, n, 0, now)
        commands.extend(invites)
    return call, commands


def _invite(call: Any, n: int, label: str, target: str, timeout: int | None, caller_id: str | None,
            now: datetime) -> tuple[Any, Command]:
    return _issue(call, AddParticipant(_ctx(call, n, label), target, timeout, caller_id), now, target)


def _queue_round(call: Any, queue: dict[str, Any], n: int, round_: int, now: datetime) -> tuple[Any, list[Command]]:
    """Ring round `round_` of a queue: everyone (simultaneous) or the next agent in turn (sequential), for
    timeoutSeconds or what is left of maxWaitSeconds."""
    timeout = min(queue["timeoutSeconds"], queue["maxWaitSeconds"] - round_ * queue["timeoutSeconds"])
    targets = queue["ring"]
    if queue.get("strategy", "simultaneous") == "simultaneous":
        indexes = list(range(len(targets)))
    else:
        indexes = [round_ % len(targets)]
    commands = []
    for i in indexes:
        call, command = _invite(call, n, f"ring-{round_}-{i}", targets[i], timeout, queue.get("callerId"), now)
        commands.append(command)
    return call, commands


def _rounds(queue: dict[str, Any]) -> int:
    return math.ceil(queue["maxWaitSeconds"] / queue["timeoutSeconds"])


# ---- going on --------------------------------------------------------------------------------------------------


def advance(call: Any, now: datetime) -> tuple[Any, list[Command]]:
    """The call with its plan's next actions recorded as pending operations, and those actions as commands."""
    if not call.plan:
        return call, []
    state = _state(call)
    phase = state.get("phase", WAITING)
    if phase == DONE:
        return call, []
    if call.ended:
        return _ended(call, phase)
    if call.state != "connected":
        return call, []
    if phase == WAITING:
        return _enter(call, "step", now, 0)
    if "at" not in state:
        # A plan stored before flows, part-way: its first step, its fallback phase.
        state.update(at="step" if phase != FALLBACK else "step/fallback", n=0 if phase != FALLBACK else 1)
        call = replace(call, plan_state=state)
    if any(op.source == "plan" and op.status == ops.FAILED and _call_is_over(op) for op in call.operations):
        # ACS refused a step because the call is over: nothing more can be done in it, and its CallDisconnected
        # ends the flow (an unanswered round must not roll on to the next one, nor to the overflow).
        return call, []
    plan = _plan(call)
    step = _step_at(plan, state["at"]) or {"hangup": True}
    n = state.get("n", 0)
    if _caller_left(call) and not state.get("winner") and phase not in (TRANSFERRING, HANGING_UP, FALLBACK):
        return _caller_gone(call, n, now)
    kind = _kind(step)
    if phase == HANGING_UP:
        kind = "hangup"
    if kind == "play":
        return _after_play(call, step, state, n, now)
    if kind == "menu":
        return _after_recognize(call, step["menu"], state, n, now)
    if kind == "ring":
        return _after_ring(call, step, state, n, now)
    if kind == "queue":
        return _after_queue(call, step["queue"], state, n, now)
    if kind == "voicemail":
        return _after_voicemail(call, step["voicemail"], state, n, now)
    # transfer, hang-up (and a legacy fallback): done once every request of the step has its outcome.
    if all(op.final for op in call.operations if op.source == "plan" and op.action != ops.START_RECORDING):
        outcome = state.get("outcome")
        transfer = ops.find(call.operations, _ctx(call, n, "transfer"))
        if transfer is not None and transfer.status == ops.FAILED:
            outcome = "transfer failed"
        return _with_state(call, phase=DONE, outcome=outcome), []
    return call, []


def _ended(call: Any, phase: str) -> tuple[Any, list[Command]]:
    """The call ended (the caller hung up, or the app's own hang-up or transfer completed): the flow ends with it.
    The service drops pending invitations and media operations and ends the recording with the call."""
    state = _state(call)
    changes: dict[str, Any] = {"phase": DONE}
    # Ended while a step waited on the caller (not after an answer, nor by the app's own transfer or hang-up).
    if phase not in (TRANSFERRING, HANGING_UP, FALLBACK, WAITING) and not state.get("winner") \
            and state.get("outcome") != "caller left":
        changes["outcome"] = "caller hung up"
    call = _with_state(call, **changes)
    if changes.get("outcome"):
        call = _note(call, n=state.get("n"), at=state.get("at"), kind="ended", by="caller")
    return call, []


def _cancels(call: Any, n: int, now: datetime, keep: str | None = None) -> tuple[Any, list[Command]]:
    """Cancel every pending ring invitation whose id is known and not cancelled yet."""
    commands: list[Command] = []
    requested = {op.target for op in call.operations if op.action == ops.CANCEL_ADD_PARTICIPANT}
    for op in call.operations:
        if op.source == "plan" and op.action == ops.ADD_PARTICIPANT and op.status == ops.PENDING \
                and op.invitation_id and op.context != keep and op.invitation_id not in requested:
            call, command = _issue(call, CancelAddParticipant(_ctx(call, n, f"cancel-{op.invitation_id}"),
                                                              op.invitation_id), now, op.invitation_id)
            commands.append(command)
    return call, commands


def _winner(state: dict[str, Any], ring: list[Operation]) -> Operation | None:
    """The agent who keeps the call: the one recorded as winner, else the first answer the app applied."""
    answered = [op for op in ring if op.status == ops.SUCCEEDED]
    return next((op for op in answered if op.target == state.get("winner")), None) or next(iter(answered), None)


def _remove_late_answers(call: Any, ring: list[Operation], winner: Operation, n: int, now: datetime
                         ) -> tuple[Any, list[Command]]:
    """Two agents can both answer (the cancel of the later one arrives after its answer and fails): the winner
    stays, every other agent who answered is removed from the call, once."""
    commands: list[Command] = []
    for op in ring:
        if op.status == ops.SUCCEEDED and op.context != winner.context:
            context = step_context(call.id, f"remove-{op.context}")
            if not ops.find(call.operations, context):
                call, command = _issue(call, RemoveParticipant(context, op.target), now, op.target)
                commands.append(command)
    return call, commands


def _settled(call: Any, ring: list[Operation], winner: Operation) -> bool:
    """Every invitation but the winner's closed, and every removal of a late answer closed."""
    removals = [op for op in call.operations if op.source == "plan" and op.action == ops.REMOVE_PARTICIPANT]
    return all(op.final or op.context == winner.context for op in ring) and all(op.final for op in removals)


def _caller_gone(call: Any, n: int, now: datetime) -> tuple[Any, list[Command]]:
    """The caller left a call that goes on: cancel the invitations, stop the recording, hang up for everyone."""
    call, commands = _cancels(call, n, now)
    recording = _active_recording(call)
    if recording is not None and not ops.find(call.operations, _ctx(call, n, "stop")):
        call, command = _issue(call, StopRecording(_ctx(call, n, "stop"), recording), now, recording)
        commands.append(command)
    hang_up = HangUp(_ctx(call, n, "caller-left"), for_everyone=True)
    if not ops.find(call.operations, hang_up.context):
        call, command = _issue(call, hang_up, now)
        commands.append(command)
    return _with_state(call, outcome="caller left"), commands


def _active_recording(call: Any) -> str | None:
    stopped = {op.target for op in call.operations if op.action == ops.STOP_RECORDING}
    for op in call.operations:
        if op.action == ops.START_RECORDING and op.recording_id and op.status != ops.FAILED \
                and op.recording_id not in stopped:
            return op.recording_id
    return None


def _call_is_over(op: Operation) -> bool:
    """Whether ACS refused a request because the call is over (the request's answer, not a result event)."""
    result = op.result or {}
    return "acsCode" in result and (result.get("code") == 404 or result.get("subCode") in ENDED_CALL_SUBCODES)


def _failed(call: Any, op: Operation, n: int, now: datetime) -> tuple[Any, list[Command]]:
    """A step's request failed (a file that cannot play, a refused request): record why, hang up."""
    state = _state(call)
    if _call_is_over(op):
        # ACS refused the request because the call is over: it ended under the request, and its
        # CallDisconnected ends the flow (hanging up would be refused the same way).
        return call, []
    call = _with_state(call, outcome="failed", phase=HANGING_UP,
                       error={"step": state.get("at"), "action": op.action, "result": op.result})
    call = _note(call, n=n, at=state.get("at"), kind="failed", action=op.action,
                 code=(op.result or {}).get("code"), subCode=(op.result or {}).get("subCode"))
    hang_up = HangUp(_ctx(call, n, "failed"), for_everyone=True)
    if ops.find(call.operations, hang_up.context):
        return call, []
    call, command = _issue(call, hang_up, now)
    return call, [command]


def _after_play(call: Any, step: dict[str, Any], state: dict[str, Any], n: int, now: datetime
                ) -> tuple[Any, list[Command]]:
    op = ops.find(call.operations, _ctx(call, n, "play"))
    if op is None or op.status in (ops.PENDING, ops.CANCELLED):
        return call, []
    if op.status == ops.FAILED:
        return _failed(call, op, n, now)
    return _enter(call, f"{state['at']}/then", now, n + 1) if "then" in step else _enter_hangup(call, n + 1, now)


def _enter_hangup(call: Any, n: int, now: datetime) -> tuple[Any, list[Command]]:
    call = _with_state(call, phase=HANGING_UP, n=n)
    call, command = _issue(call, HangUp(_ctx(call, n, "hangup"), for_everyone=True), now)
    return call, [command]


def _after_recognize(call: Any, menu: dict[str, Any], state: dict[str, Any], n: int, now: datetime
                     ) -> tuple[Any, list[Command]]:
    attempt = state.get("attempt", 0)
    op = ops.find(call.operations, _ctx(call, n, f"recognize-{attempt}"))
    if op is None or op.status in (ops.PENDING, ops.CANCELLED):
        return call, []
    result = op.result or {}
    at = state["at"]
    if op.status == ops.SUCCEEDED:
        digit = str(result.get("digits", ""))[:1]
        call = _note(call, n=n, at=at, kind="digit", digit=digit, attempt=attempt)
        if digit and digit in menu.get("options", {}):
            return _enter(call, f"{at}/menu/options/{digit}", now, n + 1)
        return _ask_again(call, menu, n, attempt, invalid=True, now=now)
    if result.get("subCode") in NO_INPUT_SUBCODES:
        call = _note(call, n=n, at=at, kind="noInput", attempt=attempt)
        return _ask_again(call, menu, n, attempt, invalid=False, now=now)
    return _failed(call, op, n, now)


def _ask_again(call: Any, menu: dict[str, Any], n: int, attempt: int, invalid: bool, now: datetime
               ) -> tuple[Any, list[Command]]:
    at = call.plan_state["at"]
    if attempt >= menu.get("retries", 2):
        return _enter(call, f"{at}/menu/noInput", now, n + 1) if "noInput" in menu else _enter_hangup(call, n + 1, now)
    prompts = (menu["prompt"],)
    if invalid and menu.get("invalidPrompt"):
        prompts = (menu["invalidPrompt"], menu["prompt"])
    call = _with_state(call, attempt=attempt + 1)
    call, command = _issue(call, Recognize(_ctx(call, n, f"recognize-{attempt + 1}"), _caller(call), prompts,
                                           menu.get("timeoutSeconds", 5)), now, _caller(call))
    return call, [command]


def _ring_ops(call: Any, n: int, labels: list[str]) -> list[Operation]:
    found = (ops.find(call.operations, _ctx(call, n, label)) for label in labels)
    return [op for op in found if op is not None]


def _after_ring(call: Any, step: dict[str, Any], state: dict[str, Any], n: int, now: datetime
                ) -> tuple[Any, list[Command]]:
    targets = step["ring"]
    ring = _ring_ops(call, n, [f"ring-{i}" for i in range(len(targets))])
    winner = _winner(state, ring)
    if winner is not None:
        if state.get("winner") != winner.target:
            call = _note(_with_state(call, winner=winner.target, outcome="answered"), n=n, at=state["at"],
                         kind="answered", by=winner.target)
        call, commands = _cancels(call, n, now, keep=winner.context)
        call, removals = _remove_late_answers(call, ring, winner, n, now)
        commands += removals
        if not commands and _settled(call, ring, winner):
            call = _with_state(call, phase=DONE)
        return call, commands
    if any(op.status == ops.PENDING for op in ring):
        return call, []
    if step.get("strategy") == "sequential" and len(ring) < len(targets):
        call, command = _invite(call, n, f"ring-{len(ring)}", targets[len(ring)], step.get("timeoutSeconds"),
                                step.get("callerId"), now)
        return call, [command]
    call = _with_state(call, outcome="unanswered")
    if "fallback" not in step:
        return _with_state(call, phase=DONE), []
    return _enter(call, f"{state['at']}/fallback", now, n + 1)


def _after_queue(call: Any, queue: dict[str, Any], state: dict[str, Any], n: int, now: datetime
                 ) -> tuple[Any, list[Command]]:
    round_ = state.get("round", 0)
    labels = [f"ring-{r}-{i}" for r in range(round_ + 1) for i in range(len(queue["ring"]))]
    ring = _ring_ops(call, n, labels)
    winner = _winner(state, ring)
    hold = ops.find(call.operations, _ctx(call, n, "hold"))
    unhold_ctx = _ctx(call, n, "unhold")
    commands: list[Command] = []
    if winner is not None:
        if state.get("winner") != winner.target:
            call = _note(_with_state(call, winner=winner.target, outcome="answered"), n=n, at=state["at"],
                         kind="answered", by=winner.target, rounds=round_ + 1)
        call, commands = _cancels(call, n, now, keep=winner.context)
        call, removals = _remove_late_answers(call, ring, winner, n, now)
        commands += removals
        if not ops.find(call.operations, unhold_ctx) and not (hold and hold.status == ops.FAILED):
            call, command = _issue(call, Unhold(unhold_ctx, _caller(call)), now, _caller(call))
            commands.append(command)
        unhold = ops.find(call.operations, unhold_ctx)
        if not commands and _settled(call, ring, winner) and (unhold is None or unhold.final):
            call = _with_state(call, phase=DONE)
        return call, commands
    if any(op.status == ops.PENDING for op in ring):
        return call, []
    if round_ + 1 < _rounds(queue):
        call = _with_state(call, round=round_ + 1)
        return _queue_round(call, queue, n, round_ + 1, now)
    # Nobody answered within maxWaitSeconds: off hold, on to the overflow step.
    call = _note(_with_state(call, outcome="overflow"), n=n, at=state["at"], kind="overflow",
                 waitedSeconds=queue["maxWaitSeconds"])
    if hold is not None and hold.status != ops.FAILED and not ops.find(call.operations, unhold_ctx):
        call, command = _issue(call, Unhold(unhold_ctx, _caller(call)), now, _caller(call))
        commands.append(command)
    call, more = _enter(call, f"{state['at']}/queue/overflow", now, n + 1)
    return call, commands + more


def _after_voicemail(call: Any, vm: dict[str, Any], state: dict[str, Any], n: int, now: datetime
                     ) -> tuple[Any, list[Command]]:
    stage = state.get("stage", "greeting")
    if stage == "greeting":
        op = ops.find(call.operations, _ctx(call, n, "greeting"))
        if op is None or op.status in (ops.PENDING, ops.CANCELLED):
            return call, []
        if op.status == ops.FAILED:
            return _failed(call, op, n, now)
        call = _with_state(call, stage="recording", timer=0)
        call, command = _issue(call, StartRecording(_ctx(call, n, "record")), now)
        return call, [command]
    record = ops.find(call.operations, _ctx(call, n, "record"))
    if record is None:
        return call, []
    if record.status == ops.FAILED:
        return _failed(call, record, n, now)
    if stage != "recording" or record.recording_id is None:
        return call, []
    # The recording runs; a silent DTMF recognize is its clock (ACS holds the timer, no instance waits): each
    # waits up to 300 s, chained until maxSeconds. A key pressed ends the message early.
    timer = state.get("timer", 0)
    waited = min(vm["maxSeconds"], TIMER_SECONDS * timer)
    context = _ctx(call, n, f"timer-{timer}")
    op = ops.find(call.operations, context)
    if op is None:
        call, command = _issue(call, Recognize(context, _caller(call), (), min(TIMER_SECONDS, vm["maxSeconds"] - waited)),
                               now, _caller(call))
        return call, [command]
    if op.status in (ops.PENDING, ops.CANCELLED):
        return call, []
    silent = op.status == ops.FAILED and (op.result or {}).get("subCode") in NO_INPUT_SUBCODES
    waited = min(vm["maxSeconds"], TIMER_SECONDS * (timer + 1)) if silent else waited
    if silent and waited < vm["maxSeconds"]:
        return _after_voicemail(_with_state(call, timer=timer + 1), vm, {**state, "timer": timer + 1}, n, now)
    call = _note(_with_state(call, stage="stopping"), n=n, at=state["at"], kind="recorded",
                 recordingId=record.recording_id, endedBy="silence" if silent else "key")
    call, stop = _issue(call, StopRecording(_ctx(call, n, "stop"), record.recording_id), now, record.recording_id)
    call, hang_up = _issue(call, HangUp(_ctx(call, n, "hangup"), for_everyone=True), now)
    return _with_state(call, phase=HANGING_UP), [stop, hang_up]


def unsent(call: Any) -> list[Command]:
    """The plan's steps recorded as pending that ACS never accepted: to send again (under the same
    repeatability id, so a step that did reach ACS is not carried out twice)."""
    plan = _plan(call)["step"] if call.plan else {}
    commands: list[Command] = []
    for op in call.operations:
        if op.source != "plan" or op.status != ops.PENDING or op.accepted_at is not None:
            continue
        cls = _COMMANDS.get(op.action)
        if cls is None:
            continue
        if op.request is not None:
            request = {k: (tuple(v) if isinstance(v, list) else v) for k, v in op.request.items()}
            commands.append(cls(context=op.context, **request))
        elif op.action == ops.ADD_PARTICIPANT:  # recorded before requests were kept with operations
            commands.append(AddParticipant(op.context, op.target, plan.get("timeoutSeconds"), plan.get("callerId")))
        elif op.action == ops.CANCEL_ADD_PARTICIPANT:
            commands.append(CancelAddParticipant(op.context, op.target))
        elif op.action == ops.TRANSFER:
            commands.append(Transfer(op.context, op.target))
        elif op.action == ops.HANG_UP:
            commands.append(HangUp(op.context, for_everyone=True))
    return commands
