"""Which rule takes this call? A simulated call validated into the facts routing reads, and the answer shaped
from the routing module's own trace (Ruleset.explain). Pure: nothing is sent to ACS and nothing is stored.

Used by POST /api/rules:simulate and by `./dev rules simulate`, so both answer the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from shared.domain.identifiers import KINDS, Identifier, parse_target
from shared.domain.requests import voip_headers
from shared.domain.routing import Answer, Explanation, Redirect, Reject, Ruleset, parse_rules
from shared.errors import RulesError, ValidationError

FIELDS = ("from", "to", "callerKind", "headers", "at", "rules")


@dataclass(frozen=True)
class SimulatedCall:
    """The parts of an IncomingCall that routing reads (see routing.Routable)."""

    to: Identifier
    from_: Identifier
    custom_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Simulation:
    call: SimulatedCall
    at: datetime | None  # None: now
    rules: Ruleset | None  # None: the loaded ruleset


def parse_simulation(body: Mapping[str, Any], recordings_configured: bool = False) -> Simulation:
    """Validate a simulate request; ValidationError names the field (for `rules`, the rule and field too).

    `recordings_configured`: whether RECORDINGS_CONTAINER_URL is set, as at load (a voicemail step needs it)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(f"{unknown[0]} is not a field of this request (allowed: {', '.join(sorted(FIELDS))})",
                              field=unknown[0])
    for name in ("from", "to"):
        if body.get(name) is None:
            raise ValidationError(f"{name} is required: an E.164 number or a raw id such as 8:acs:...", field=name)
    to = parse_target(body["to"], "to")
    caller = parse_target(body["from"], "from")
    kind = body.get("callerKind")
    if kind is not None:
        if kind not in KINDS:
            raise ValidationError(f"callerKind must be one of {', '.join(KINDS)}", field="callerKind")
        caller = Identifier(kind, caller.raw_id)
    headers = voip_headers(body.get("headers"), "headers")
    at = parse_instant(body["at"], "at") if body.get("at") is not None else None
    rules = None
    if body.get("rules") is not None:
        try:
            rules = parse_rules(body["rules"], recordings_configured)
        except RulesError as exc:
            raise ValidationError(f"rules: {exc}", field="rules") from None
    return Simulation(SimulatedCall(to=to, from_=caller, custom_headers=headers), at, rules)


def parse_instant(value: Any, where: str) -> datetime:
    """An ISO 8601 time with its UTC offset (`2026-12-25T15:00:00Z`): a time without one is ambiguous."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where} must be an ISO 8601 time with a UTC offset, like 2026-12-25T15:00:00Z",
                              field=where)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{where} must be an ISO 8601 time with a UTC offset, like 2026-12-25T15:00:00Z",
                              field=where) from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{where} has no UTC offset: write it as 2026-12-25T15:00:00Z or with +hh:mm",
                              field=where)
    return parsed.astimezone(timezone.utc)


def simulate(ruleset: Ruleset, simulation: Simulation, now: datetime) -> dict[str, Any]:
    """What the app would decide for the simulated call at `at` (or now), with the evaluation trace."""
    at = simulation.at or now
    rules = simulation.rules or ruleset
    return answer(rules.explain(simulation.call, at), at)


def answer(explanation: Explanation, at: datetime) -> dict[str, Any]:
    """The simulate route's answer for one explanation."""
    decision = explanation.decision
    out: dict[str, Any] = {"rule": decision.rule, "action": decision.action}
    if isinstance(decision, Answer) and decision.plan is not None:
        out["then"] = decision.plan.to_dict()
    elif isinstance(decision, Reject):
        out["reason"] = decision.reason
    elif isinstance(decision, Redirect):
        out["target"] = decision.target.display
    out["at"] = at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    out["evaluated"] = [e.to_dict() for e in explanation.evaluated]
    return out
