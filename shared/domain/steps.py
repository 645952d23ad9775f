"""Call-flow steps and holiday calendars: parsed and validated at load, whole, with the rule or flow and field named.

A step is what an answered call does next: play a file, run a menu, ring a group, queue with music on hold,
take a voicemail, transfer, hang up, or go to a named flow. The ruleset's `flows` are named steps; an `answer`
rule's `then` is a step. Pure: no I/O; the stored form of a step (`to_dict`) is what the flow engine
(`shared.domain.flows`) carries out from a call's stored state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.identifiers import Identifier, parse_phone_number, parse_target
from shared.errors import RulesError, ValidationError

STRATEGIES = ("simultaneous", "sequential")
MAX_INVITATION_TIMEOUT = 180          # AddParticipantRequest.invitationTimeoutInSeconds, spec maximum
MAX_SILENCE_TIMEOUT = 300             # RecognizeOptions.initialSilenceTimeoutInSeconds, spec maximum
MAX_RETRIES = 5
MAX_VOICEMAIL_SECONDS = 600
MAX_WAIT_SECONDS = 3600
MAX_CALENDAR_DAYS = 366               # one range may span at most a year
# A call stores the step its rule starts and every flow that step can reach (one Table property, 32K
# characters at most): a ruleset whose reachable flows would not fit is refused at load.
MAX_STORED_PLAN = 16_000
DIGITS = frozenset("0123456789*#")
KINDS = ("play", "menu", "ring", "transfer", "hangup", "flow", "voicemail", "queue")
_EXTRA_KEYS = {"play": {"then"}, "ring": {"strategy", "timeoutSeconds", "callerId", "fallback"}}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def rules_error(where: str, message: str) -> RulesError:
    """A ruleset refusal naming the field where it is wrong."""
    return RulesError(f"{where}: {message}", field=where)


def checked_timezone(tz: Any, where: str) -> str:
    """`tz` if it names an IANA timezone, or the refusal naming `where`."""
    try:
        if not isinstance(tz, str) or not tz:
            raise ZoneInfoNotFoundError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise rules_error(where, f"{tz!r} is not an IANA timezone such as America/New_York") from None
    return tz


def keyed_object(value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    """`value` as an object whose keys are all in `allowed`, or the refusal naming the first unknown key."""
    if not isinstance(value, Mapping):
        raise rules_error(where, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise rules_error(f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    return value


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise rules_error(where, f"must be a whole number from {low} to {high}")
    return value


def parse_media_url(value: Any, where: str) -> str:
    """An audio file's URL as ACS fetches it: absolute https (http only for loopback hosts, for local runs)."""
    if not isinstance(value, str) or not value:
        raise rules_error(where, "must be an absolute https URL of an audio file")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise rules_error(where, f"{value[:80]!r} is not a URL") from None
    if not parts.netloc or not host or any(c.isspace() for c in value):
        raise rules_error(where, f"{value[:80]!r} is not an absolute URL")
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return value
    raise rules_error(where, f"{value[:80]!r} must be https (http is allowed only for localhost, 127.0.0.1 and ::1)")


def _target(value: Any, where: str) -> Identifier:
    try:
        return parse_target(value, where)
    except ValidationError as exc:
        raise RulesError(str(exc), field=where) from None


# ---- steps ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HangupStep:
    kind: str = field(default="hangup", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"hangup": True}


@dataclass(frozen=True)
class TransferStep:
    transfer: Identifier
    kind: str = field(default="transfer", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"transfer": self.transfer.display}


@dataclass(frozen=True)
class FlowStep:
    flow: str
    kind: str = field(default="flow", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow}


@dataclass(frozen=True)
class PlayStep:
    play: str
    then: "Step" = field(default_factory=HangupStep)
    kind: str = field(default="play", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"play": self.play, "then": self.then.to_dict()}


@dataclass(frozen=True)
class MenuStep:
    prompt: str
    options: tuple[tuple[str, "Step"], ...]
    timeout_seconds: int = 5
    retries: int = 2
    invalid_prompt: str | None = None
    no_input: "Step" = field(default_factory=HangupStep)
    kind: str = field(default="menu", init=False)

    def to_dict(self) -> dict[str, Any]:
        menu: dict[str, Any] = {"prompt": self.prompt, "options": {d: s.to_dict() for d, s in self.options},
                                "timeoutSeconds": self.timeout_seconds, "retries": self.retries,
                                "noInput": self.no_input.to_dict()}
        if self.invalid_prompt:
            menu["invalidPrompt"] = self.invalid_prompt
        return {"menu": menu}


@dataclass(frozen=True)
class RingStep:
    """A ring group; `fallback` (any step) runs when nobody answers. Field names as the follow-up plan had them."""

    ring: tuple[Identifier, ...]
    strategy: str = "simultaneous"
    timeout_seconds: int | None = None
    caller_id: str | None = None
    fallback: "Step | None" = None
    kind: str = field(default="ring", init=False)

    def to_dict(self) -> dict[str, Any]:
        step: dict[str, Any] = {"ring": [t.display for t in self.ring], "strategy": self.strategy}
        if self.timeout_seconds is not None:
            step["timeoutSeconds"] = self.timeout_seconds
        if self.caller_id:
            step["callerId"] = self.caller_id
        if self.fallback is not None:
            step["fallback"] = self.fallback.to_dict()
        return step


@dataclass(frozen=True)
class VoicemailStep:
    prompt: str
    max_seconds: int = 120
    kind: str = field(default="voicemail", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"voicemail": {"prompt": self.prompt, "maxSeconds": self.max_seconds}}


@dataclass(frozen=True)
class QueueStep:
    music: str
    ring: tuple[Identifier, ...]
    strategy: str = "simultaneous"
    timeout_seconds: int = 20
    max_wait_seconds: int = 300
    caller_id: str | None = None
    overflow: "Step" = field(default_factory=HangupStep)
    kind: str = field(default="queue", init=False)

    def to_dict(self) -> dict[str, Any]:
        queue: dict[str, Any] = {"music": self.music, "ring": [t.display for t in self.ring],
                                 "strategy": self.strategy, "timeoutSeconds": self.timeout_seconds,
                                 "maxWaitSeconds": self.max_wait_seconds, "overflow": self.overflow.to_dict()}
        if self.caller_id:
            queue["callerId"] = self.caller_id
        return {"queue": queue}


Step = HangupStep | TransferStep | FlowStep | PlayStep | MenuStep | RingStep | VoicemailStep | QueueStep


def _ring_targets(value: Any, where: str) -> tuple[Identifier, ...]:
    if not isinstance(value, list) or not value:
        raise rules_error(where, "must be a non-empty list of targets")
    ring = tuple(_target(t, f"{where}[{i}]") for i, t in enumerate(value))
    if len(set(ring)) != len(ring):
        raise rules_error(where, "lists a target twice")
    return ring


def _strategy(spec: Mapping[str, Any], where: str) -> str:
    strategy = spec.get("strategy", "simultaneous")
    if strategy not in STRATEGIES:
        raise rules_error(f"{where}.strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
    return strategy


def _caller_id(spec: Mapping[str, Any], where: str) -> str | None:
    caller_id = spec.get("callerId")
    if caller_id is None:
        return None
    try:
        return parse_phone_number(caller_id, f"{where}.callerId")
    except ValidationError as exc:
        raise RulesError(str(exc), field=f"{where}.callerId") from None


def parse_step(value: Any, where: str) -> Step:
    """One step: exactly one kind key (plus `then` for play, the ring group's options for ring)."""
    if not isinstance(value, Mapping):
        raise rules_error(where, f"must be a step: an object with one of {', '.join(KINDS)}")
    kinds = [k for k in KINDS if k in value]
    if not kinds:
        unknown = sorted(value)
        raise rules_error(f"{where}.{unknown[0]}" if unknown else where,
                    f"unknown step (a step has exactly one of {', '.join(KINDS)})")
    if len(kinds) > 1:
        raise rules_error(where, f"a step has exactly one kind, this one has {' and '.join(kinds)}")
    kind = kinds[0]
    spec = keyed_object(value, where, {kind} | _EXTRA_KEYS.get(kind, set()))
    body = spec[kind]
    at = f"{where}.{kind}"
    if kind == "hangup":
        if body is not True:
            raise rules_error(at, "must be true")
        return HangupStep()
    if kind == "transfer":
        return TransferStep(_target(body, at))
    if kind == "flow":
        if not isinstance(body, str) or not body:
            raise rules_error(at, "must be the name of a flow")
        return FlowStep(body)
    if kind == "play":
        then = parse_step(spec["then"], f"{where}.then") if "then" in spec else HangupStep()
        return PlayStep(parse_media_url(body, at), then)
    if kind == "ring":
        timeout = spec.get("timeoutSeconds")
        if timeout is not None:
            _whole(timeout, f"{where}.timeoutSeconds", 1, MAX_INVITATION_TIMEOUT)
        fallback = parse_step(spec["fallback"], f"{where}.fallback") if "fallback" in spec else None
        return RingStep(_ring_targets(body, at), _strategy(spec, where), timeout, _caller_id(spec, where), fallback)
    if kind == "menu":
        return _menu(body, at)
    if kind == "voicemail":
        vm = keyed_object(body, at, {"prompt", "maxSeconds"})
        if "prompt" not in vm:
            raise rules_error(f"{at}.prompt", "is required: the greeting played before recording")
        max_seconds = _whole(vm.get("maxSeconds", 120), f"{at}.maxSeconds", 1, MAX_VOICEMAIL_SECONDS)
        return VoicemailStep(parse_media_url(vm["prompt"], f"{at}.prompt"), max_seconds)
    return _queue(body, at)


def _menu(body: Any, at: str) -> MenuStep:
    menu = keyed_object(body, at, {"prompt", "options", "timeoutSeconds", "retries", "invalidPrompt", "noInput"})
    if "prompt" not in menu:
        raise rules_error(f"{at}.prompt", "is required")
    options = menu.get("options")
    if not isinstance(options, Mapping) or not options:
        raise rules_error(f"{at}.options", "must be an object of digits (0-9, *, #) to steps")
    parsed = []
    for digit, step in options.items():
        if not isinstance(digit, str) or len(digit) != 1 or digit not in DIGITS:
            raise rules_error(f"{at}.options.{digit}", "is not a DTMF digit: use one of 0-9, * or #")
        parsed.append((digit, parse_step(step, f"{at}.options.{digit}")))
    invalid = menu.get("invalidPrompt")
    return MenuStep(
        prompt=parse_media_url(menu["prompt"], f"{at}.prompt"), options=tuple(parsed),
        timeout_seconds=_whole(menu.get("timeoutSeconds", 5), f"{at}.timeoutSeconds", 1, MAX_SILENCE_TIMEOUT),
        retries=_whole(menu.get("retries", 2), f"{at}.retries", 0, MAX_RETRIES),
        invalid_prompt=parse_media_url(invalid, f"{at}.invalidPrompt") if invalid is not None else None,
        no_input=parse_step(menu["noInput"], f"{at}.noInput") if "noInput" in menu else HangupStep(),
    )


def _queue(body: Any, at: str) -> QueueStep:
    queue = keyed_object(body, at, {"music", "ring", "strategy", "timeoutSeconds", "maxWaitSeconds", "callerId",
                               "overflow"})
    for key in ("music", "ring"):
        if key not in queue:
            raise rules_error(f"{at}.{key}", "is required")
    timeout = _whole(queue.get("timeoutSeconds", 20), f"{at}.timeoutSeconds", 1, MAX_INVITATION_TIMEOUT)
    return QueueStep(
        music=parse_media_url(queue["music"], f"{at}.music"), ring=_ring_targets(queue["ring"], f"{at}.ring"),
        strategy=_strategy(queue, at), timeout_seconds=timeout,
        max_wait_seconds=_whole(queue.get("maxWaitSeconds", 300), f"{at}.maxWaitSeconds", 1, MAX_WAIT_SECONDS),
        caller_id=_caller_id(queue, at),
        overflow=parse_step(queue["overflow"], f"{at}.overflow") if "overflow" in queue else HangupStep(),
    )


def children(step: Step) -> list[Step]:
    """The steps a step can go on to."""
    if isinstance(step, PlayStep):
        return [step.then]
    if isinstance(step, MenuStep):
        return [s for _, s in step.options] + [step.no_input]
    if isinstance(step, RingStep):
        return [step.fallback] if step.fallback else []
    if isinstance(step, QueueStep):
        return [step.overflow]
    return []


def _walk(step: Step):
    yield step
    for child in children(step):
        yield from _walk(child)


def references(step: Step, through_menus: bool = True) -> list[str]:
    """Names of the flows a step goes to; without `through_menus`, only those reached before any menu."""
    names = []
    stack = [step]
    while stack:
        current = stack.pop()
        if isinstance(current, FlowStep):
            names.append(current.flow)
        elif isinstance(current, MenuStep) and not through_menus:
            continue
        stack.extend(children(current))
    return names


def has_voicemail(step: Step) -> bool:
    return any(isinstance(s, VoicemailStep) for s in _walk(step))


# ---- flows ---------------------------------------------------------------------------------------------------


def parse_flows(value: Any, recordings_configured: bool) -> dict[str, Step]:
    """The ruleset's named flows; every name they use must exist, and no flow may loop without a menu."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise rules_error("flows", "must be an object of flow names to steps")
    flows: dict[str, Step] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise rules_error(f"flows.{name}", "a flow name is 1-64 letters, digits, '-', '_' or '.'")
        flows[name] = parse_step(spec, f"flow {name!r} (flows.{name})")
    for name, step in flows.items():
        check_step(step, f"flow {name!r} (flows.{name})", flows, recordings_configured)
    # A cycle of flows with no menu on the way would never stop (nor wait for the caller): refuse it.
    for start in flows:
        path = [start]
        seen: dict[str, list[str]] = {}

        def visit(name: str, trail: list[str]) -> None:
            for nxt in references(flows[name], through_menus=False):
                if nxt == start:
                    cycle = " -> ".join(trail + [nxt])
                    raise rules_error(f"flow {start!r} (flows.{start})",
                                f"loops without a menu on the way ({cycle}): it would never stop")
                if nxt not in seen:
                    seen[nxt] = trail + [nxt]
                    visit(nxt, trail + [nxt])

        visit(start, path)
    return flows


def check_step(step: Step, where: str, flows: Mapping[str, Any], recordings_configured: bool) -> None:
    """Every flow a step names exists; a voicemail needs RECORDINGS_CONTAINER_URL."""
    for current in _walk(step):
        if isinstance(current, FlowStep) and current.flow not in flows:
            known = ", ".join(sorted(flows)) or "none defined"
            raise rules_error(where, f"goes to flow {current.flow!r}, which is not defined (flows: {known})")
        if isinstance(current, VoicemailStep) and not recordings_configured:
            raise rules_error(where, "takes a voicemail, but setting RECORDINGS_CONTAINER_URL (the Blob container ACS "
                               "records into) is not set")


def reachable(step: Step, flows: Mapping[str, Step]) -> dict[str, Step]:
    """The flows a step can reach, directly or through other flows."""
    found: dict[str, Step] = {}
    pending = references(step)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = flows[name]
        pending.extend(references(flows[name]))
    return found


def stored_plan(step: Step, flows: Mapping[str, Step]) -> dict[str, Any]:
    """What a call keeps so that any instance carries its flow on: the step and every flow it reaches."""
    return {"step": step.to_dict(), "flows": {name: s.to_dict() for name, s in sorted(reachable(step, flows).items())}}


def check_plan_size(step: Step, flows: Mapping[str, Step], where: str) -> None:
    size = len(json.dumps(stored_plan(step, flows), separators=(",", ":")))
    if size > MAX_STORED_PLAN:
        raise rules_error(where, f"starts a plan of {size} characters with the flows it reaches; a call stores at most "
                           f"{MAX_STORED_PLAN}: split the flows or reach fewer from one rule")


# ---- calendars -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Dates (inclusive ranges) in a timezone: a call is on the calendar when its local date is one of them."""

    name: str
    timezone: str
    ranges: tuple[tuple[date, date], ...]

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.timezone)).date()
        return any(start <= local <= end for start, end in self.ranges)


def _date(text: str, where: str) -> date:
    if not _DATE.fullmatch(text):
        raise rules_error(where, f"{text!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise rules_error(where, f"{text!r} is not a date YYYY-MM-DD") from None


def parse_calendars(value: Any) -> dict[str, Calendar]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise rules_error("calendars", "must be an object of calendar names to {timezone, dates}")
    calendars = {}
    for name, spec in value.items():
        where = f"calendar {name!r} (calendars.{name})"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise rules_error(f"calendars.{name}", "a calendar name is 1-64 letters, digits, '-', '_' or '.'")
        cal = keyed_object(spec, where, {"timezone", "dates"})
        tz = checked_timezone(cal.get("timezone"), f"{where}.timezone")
        dates = cal.get("dates")
        if not isinstance(dates, list) or not dates:
            raise rules_error(f"{where}.dates", "must be a non-empty list of YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        ranges = []
        for i, item in enumerate(dates):
            at = f"{where}.dates[{i}]"
            if not isinstance(item, str):
                raise rules_error(at, "must be a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")
            first, sep, last = item.partition("..")
            start = _date(first, at)
            end = _date(last, at) if sep else start
            if end < start:
                raise rules_error(at, f"range {item!r} ends before it starts")
            if (end - start).days >= MAX_CALENDAR_DAYS:
                raise rules_error(at, f"range {item!r} spans more than {MAX_CALENDAR_DAYS} days")
            ranges.append((start, end))
        calendars[name] = Calendar(name, tz, tuple(ranges))
    return calendars


def calendar_names(value: Any, where: str, calendars: Mapping[str, Calendar]) -> tuple[Calendar, ...]:
    """A match key's list of calendar names, each defined."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise rules_error(where, "must be a non-empty list of calendar names")
    found = []
    for i, name in enumerate(names):
        if name not in calendars:
            known = ", ".join(sorted(calendars)) or "none defined"
            raise rules_error(f"{where}[{i}]", f"calendar {name!r} is not defined (calendars: {known})")
        found.append(calendars[name])
    return tuple(found)
