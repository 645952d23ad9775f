"""Routing rules: parsed and validated at load, then evaluated as a pure function of the call and the clock."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Mapping, Protocol
from zoneinfo import ZoneInfo

from shared.domain.identifiers import ACS_USER, KINDS, PHONE, TEAMS_USER, Identifier, kind_of_raw_id, parse_phone_number, parse_target
from shared.domain.steps import (
    Calendar, Step, calendar_names, check_plan_size, check_step, checked_timezone, keyed_object, parse_calendars, parse_flows,
    parse_step, rules_error,
)
from shared.errors import RulesError, ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REJECT_REASONS = ("none", "busy", "forbidden")
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_PHONE_PATTERN = re.compile(r"\+[0-9*?]+")
_MATCH_KEYS = {"to", "from", "callerKind", "within", "outside", "headers", "calendar", "notCalendar"}
_WINDOW_KEYS = {"timezone", "days", "start", "end"}


class Routable(Protocol):
    """What routing reads of a call: an IncomingCall, or the facts of a simulated one."""

    @property
    def to(self) -> Identifier: ...

    @property
    def from_(self) -> Identifier: ...

    @property
    def custom_headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Window:
    """A weekly window in a timezone; end before start means it runs across midnight."""

    timezone: str
    days: frozenset[str]
    start: time
    end: time  # time(0, 0) with end_of_day means 24:00
    end_of_day: bool = False

    def contains(self, instant: datetime) -> bool:
        """Whether the UTC instant falls inside the window, read on the zone's local wall clock."""
        local = instant.astimezone(ZoneInfo(self.timezone))
        day, now = DAYS[local.weekday()], local.time().replace(tzinfo=None)
        if self.end_of_day or self.start < self.end:
            return day in self.days and now >= self.start and (self.end_of_day or now < self.end)
        # Across midnight: the evening part belongs to the listed day, the early hours to the day after it.
        yesterday = DAYS[(local - timedelta(days=1)).weekday()]
        return (day in self.days and now >= self.start) or (yesterday in self.days and now < self.end)


@dataclass(frozen=True)
class Match:
    """What a call must show for a rule to apply; every key given must hold."""

    to: tuple[str, ...] | None = None
    from_: tuple[str, ...] | None = None
    caller_kinds: frozenset[str] | None = None
    within: Window | None = None
    outside: Window | None = None
    headers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    calendars: tuple[Calendar, ...] | None = None
    not_calendars: tuple[Calendar, ...] | None = None

    def failures(self, call: Routable, now: datetime) -> tuple[str, ...]:
        """The match keys (as the rules write them) that the call does not satisfy; empty when the rule applies."""
        failed: list[str] = []
        if self.to is not None and not _matches_any(call.to, self.to):
            failed.append("to")
        if self.from_ is not None and not _matches_any(call.from_, self.from_):
            failed.append("from")
        if self.caller_kinds is not None and call.from_.kind not in self.caller_kinds:
            failed.append("callerKind")
        if self.within is not None and not self.within.contains(now):
            failed.append("within")
        if self.outside is not None and self.outside.contains(now):
            failed.append("outside")
        if self.calendars is not None and not any(c.contains(now) for c in self.calendars):
            failed.append("calendar")
        if self.not_calendars is not None and any(c.contains(now) for c in self.not_calendars):
            failed.append("notCalendar")
        if self.headers and not self._headers_hold(call):
            failed.append("headers")
        return tuple(failed)

    def holds(self, call: Routable, now: datetime) -> bool:
        return not self.failures(call, now)

    def _headers_hold(self, call: Routable) -> bool:
        present = {name.lower(): value for name, value in call.custom_headers.items()}
        for name, patterns in self.headers:
            value = present.get(name.lower())
            if value is None or not any(fnmatch.fnmatchcase(value, p) for p in patterns):
                return False
        return True


def _matches_any(identifier: Identifier, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(identifier.display, p) or fnmatch.fnmatchcase(identifier.raw_id, p) for p in patterns)


@dataclass(frozen=True)
class Answer:
    """Answer the call; `plan` is the step that follows (None: nothing), `flows` every named flow it reaches."""

    rule: str
    plan: Step | None = None
    flows: Mapping[str, Step] = field(default_factory=dict)
    action: str = field(default="answer", init=False)


@dataclass(frozen=True)
class Reject:
    rule: str
    reason: str = "none"
    action: str = field(default="reject", init=False)


@dataclass(frozen=True)
class Redirect:
    rule: str
    target: Identifier
    action: str = field(default="redirect", init=False)


Decision = Answer | Reject | Redirect


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    decision: Decision


@dataclass(frozen=True)
class Evaluation:
    """One rule tried against a call: whether it matched, and if not, which of its match keys failed."""

    rule: str
    matched: bool
    failed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "matched": True} if self.matched else \
            {"rule": self.rule, "matched": False, "failed": list(self.failed)}


@dataclass(frozen=True)
class Explanation:
    """Why a call got its decision: every rule evaluated, in order, up to the one that matched."""

    decision: Decision
    evaluated: tuple[Evaluation, ...]


@dataclass(frozen=True)
class Ruleset:
    """An ordered list of rules and the default that applies when none matches."""

    rules: tuple[Rule, ...]
    default: Decision

    def explain(self, call: Routable, now: datetime) -> Explanation:
        """The decision and its trace: each rule tried in order, with the keys that failed, up to the winner."""
        evaluated: list[Evaluation] = []
        for rule in self.rules:
            failed = rule.match.failures(call, now)
            evaluated.append(Evaluation(rule.name, not failed, failed))
            if not failed:
                return Explanation(rule.decision, tuple(evaluated))
        return Explanation(self.default, tuple(evaluated))

    def decide(self, call: Routable, now: datetime) -> Decision:
        """The first matching rule's decision, else the default."""
        return self.explain(call, now).decision


# ---- loading -------------------------------------------------------------------------------------------------


def _string_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise rules_error(where, "must be a non-empty list of strings")
    return value


def _id_patterns(value: Any, where: str) -> tuple[str, ...]:
    patterns = _string_list(value, where)
    for i, pattern in enumerate(patterns):
        item = f"{where}[{i}]"
        if pattern == "*":
            continue
        if pattern.startswith("+"):
            if not _PHONE_PATTERN.fullmatch(pattern):
                raise rules_error(item, f"{pattern!r} is not an E.164 number or number pattern like +1900*")
            if "*" not in pattern and "?" not in pattern:
                try:
                    parse_phone_number(pattern, item)
                except ValidationError:
                    raise rules_error(item, f"{pattern!r} is not an E.164 number") from None
        elif kind_of_raw_id(pattern.rstrip("*")) == "unknown" and not pattern.startswith("4:"):
            raise rules_error(item, f"{pattern!r} is neither an E.164 number nor a raw id (8:acs:..., 8:orgid:...)")
    return tuple(patterns)


def _clock(value: Any, where: str, allow_24: bool) -> tuple[time, bool]:
    if allow_24 and value == "24:00":
        return time(0, 0), True
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise rules_error(where, "must be a time HH:MM (00:00 to 23:59)")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes)), False


def _window(value: Any, where: str) -> Window:
    spec = keyed_object(value, where, _WINDOW_KEYS)
    for key in ("timezone", "start", "end"):
        if key not in spec:
            raise rules_error(f"{where}.{key}", "is required")
    tz = checked_timezone(spec["timezone"], f"{where}.timezone")
    days = _string_list(spec.get("days", list(DAYS)), f"{where}.days")
    for i, day in enumerate(days):
        if day.lower() not in DAYS:
            raise rules_error(f"{where}.days[{i}]", f"{day!r} is not one of {', '.join(DAYS)}")
    start, _ = _clock(spec["start"], f"{where}.start", allow_24=False)
    end, end_of_day = _clock(spec["end"], f"{where}.end", allow_24=True)
    if start == end and not end_of_day:
        raise rules_error(f"{where}.end", "must differ from start")
    return Window(timezone=tz, days=frozenset(d.lower() for d in days), start=start, end=end, end_of_day=end_of_day)


def _match(value: Any, where: str, calendars: Mapping[str, Calendar]) -> Match:
    spec = keyed_object(value if value is not None else {}, where, _MATCH_KEYS)
    kinds = None
    if "callerKind" in spec:
        kinds = _string_list(spec["callerKind"], f"{where}.callerKind")
        for i, kind in enumerate(kinds):
            if kind not in KINDS:
                raise rules_error(f"{where}.callerKind[{i}]", f"{kind!r} is not one of {PHONE}, {ACS_USER}, {TEAMS_USER}")
        kinds = frozenset(kinds)
    headers: list[tuple[str, tuple[str, ...]]] = []
    if "headers" in spec:
        raw = spec["headers"]
        if not isinstance(raw, Mapping) or not raw:
            raise rules_error(f"{where}.headers", "must be an object of header names to values")
        for name, val in raw.items():
            headers.append((name, tuple(_string_list(val, f"{where}.headers.{name}"))))
    return Match(
        to=_id_patterns(spec["to"], f"{where}.to") if "to" in spec else None,
        from_=_id_patterns(spec["from"], f"{where}.from") if "from" in spec else None,
        caller_kinds=kinds,
        within=_window(spec["within"], f"{where}.within") if "within" in spec else None,
        outside=_window(spec["outside"], f"{where}.outside") if "outside" in spec else None,
        headers=tuple(headers),
        calendars=calendar_names(spec["calendar"], f"{where}.calendar", calendars) if "calendar" in spec else None,
        not_calendars=(calendar_names(spec["notCalendar"], f"{where}.notCalendar", calendars)
                       if "notCalendar" in spec else None),
    )


def _target(value: Any, where: str) -> Identifier:
    try:
        return parse_target(value, where)
    except ValidationError as exc:
        raise RulesError(str(exc), field=where) from None


def _decision(spec: Mapping[str, Any], where: str, name: str, flows: Mapping[str, Step],
              recordings_configured: bool) -> Decision:
    action = spec.get("action")
    if action == "answer":
        keyed_object(spec, where, {"name", "match", "action", "then"})
        if "then" not in spec:
            return Answer(rule=name)
        step = parse_step(spec["then"], f"{where}.then")
        check_step(step, f"{where}.then", flows, recordings_configured)
        check_plan_size(step, flows, f"{where}.then")
        return Answer(rule=name, plan=step, flows=flows)
    if action == "reject":
        keyed_object(spec, where, {"name", "match", "action", "reason"})
        reason = spec.get("reason", "none")
        if reason not in REJECT_REASONS:
            raise rules_error(f"{where}.reason", f"{reason!r} is not one of {', '.join(REJECT_REASONS)}")
        return Reject(rule=name, reason=reason)
    if action == "redirect":
        keyed_object(spec, where, {"name", "match", "action", "target"})
        if "target" not in spec:
            raise rules_error(f"{where}.target", "is required for redirect")
        return Redirect(rule=name, target=_target(spec["target"], f"{where}.target"))
    raise rules_error(f"{where}.action", f"{action!r} is not one of answer, reject, redirect")


def parse_rules(document: Any, recordings_configured: bool = False) -> Ruleset:
    """Validate a rules document (already decoded JSON) into a Ruleset; RulesError names the rule and field.

    `recordings_configured`: whether RECORDINGS_CONTAINER_URL is set (a voicemail step needs it)."""
    top = keyed_object(document, "rules document", {"rules", "default", "flows", "calendars"})
    calendars = parse_calendars(top.get("calendars"))
    flows = parse_flows(top.get("flows"), recordings_configured)
    rules_raw = top.get("rules", [])
    if not isinstance(rules_raw, list):
        raise rules_error("rules", "must be a list of rules")
    rules: list[Rule] = []
    names: set[str] = set()
    for i, spec in enumerate(rules_raw):
        if not isinstance(spec, Mapping):
            raise rules_error(f"rules[{i}]", "must be an object")
        name = spec.get("name", f"rules[{i}]")
        if not isinstance(name, str) or not name.strip():
            raise rules_error(f"rules[{i}].name", "must be a non-empty string")
        if name in names:
            raise rules_error(f"rules[{i}].name", f"{name!r} is used by an earlier rule")
        names.add(name)
        where = f"rule {name!r} (rules[{i}])"
        decision = _decision(spec, where, name, flows, recordings_configured)
        rules.append(Rule(name=name, match=_match(spec.get("match"), f"{where}.match", calendars), decision=decision))
    if "default" not in top:
        raise rules_error("default", "is required: what to do with a call no rule matches")
    default_spec = top["default"]
    if not isinstance(default_spec, Mapping):
        raise rules_error("default", "must be an object")
    if "match" in default_spec:
        raise rules_error("default.match", "the default applies to every call: it takes no match")
    return Ruleset(rules=tuple(rules), default=_decision(default_spec, "default", "default", flows,
                                                         recordings_configured))


def load_rules(text: str, source: str = "ROUTING_RULES", recordings_configured: bool = False) -> Ruleset:
    """Parse rules from JSON text; errors name the source, the rule and the field."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise RulesError(f"{source} is not valid JSON: {exc}", field=source) from None
    except RecursionError:
        raise RulesError(f"{source} is not valid JSON: nested too deeply", field=source) from None
    try:
        return parse_rules(document, recordings_configured)
    except RulesError as exc:
        raise RulesError(f"{source}: {exc}", field=exc.field) from None
