"""Routing rules for operators, before they deploy: check a ruleset, simulate a call against it.

    python -m devtools.rules check FILE
    python -m devtools.rules simulate FILE --from N --to N [--at T] [--caller-kind K] [--header NAME=VALUE ...]

`check` loads FILE with the app's own loader (shared.domain.routing.load_rules) and prints one line: the rules,
flows and calendars it holds and the numbers it routes (exit 0), or the error naming the rule and field (exit 1).
`simulate` prints what POST /api/rules:simulate would answer for that call with FILE as the ruleset (the same
function builds both answers). Standard library only, with the app's pure domain: the azd hooks run it with a
plain python3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from shared.domain.routing import Answer, Redirect, Reject, Ruleset, load_rules  # noqa: E402
from shared.domain.simulation import parse_simulation, simulate  # noqa: E402
from shared.errors import RulesError, ValidationError  # noqa: E402


class CheckFailed(Exception):
    """The file cannot be read or is not a valid ruleset; the message says why (rule and field)."""


def recordings_configured() -> bool:
    """As the app decides at load: a voicemail step needs RECORDINGS_CONTAINER_URL (read from the environment,
    where azd puts the deployment's outputs)."""
    return bool(os.environ.get("RECORDINGS_CONTAINER_URL", "").strip())


def load(path: str, recordings: bool | None = None) -> tuple[Ruleset, dict[str, Any]]:
    """The ruleset in `path`, validated exactly as the app validates ROUTING_RULES, and its JSON document."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckFailed(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        ruleset = load_rules(text, source=path, recordings_configured=recordings_configured() if recordings is None
                             else recordings)
    except RulesError as exc:
        raise CheckFailed(str(exc)) from None
    return ruleset, json.loads(text)


def _decision_text(decision: Any) -> str:
    if isinstance(decision, Reject):
        return f"reject ({decision.reason})"
    if isinstance(decision, Redirect):
        return f"redirect to {decision.target.display}"
    if isinstance(decision, Answer) and decision.plan is not None:
        return "answer with follow-ups"
    return decision.action


def summary(path: str, ruleset: Ruleset, document: dict[str, Any]) -> str:
    """One line: what the ruleset holds and which numbers it routes."""
    numbers: list[str] = []
    for rule in ruleset.rules:
        for pattern in rule.match.to or ():
            if pattern.startswith("+") and pattern not in numbers:
                numbers.append(pattern)
    any_number = [rule.name for rule in ruleset.rules if rule.match.to is None or "*" in (rule.match.to or ())]
    flows, calendars = len(document.get("flows") or {}), len(document.get("calendars") or {})
    routed = f"{len(numbers)} number{'' if len(numbers) == 1 else 's'} routed"
    if numbers:
        routed += f" ({', '.join(numbers)})"
    anywhere = f", {len(any_number)} rule{'' if len(any_number) == 1 else 's'} for any number" if any_number else ""
    return (f"{path}: valid: {len(ruleset.rules)} rule{'' if len(ruleset.rules) == 1 else 's'}, "
            f"{flows} flow{'' if flows == 1 else 's'}, {calendars} calendar{'' if calendars == 1 else 's'}, "
            f"{routed}{anywhere}; default: {_decision_text(ruleset.default)}")


def check(path: str) -> str:
    ruleset, document = load(path)
    return summary(path, ruleset, document)


def simulation_body(args: argparse.Namespace) -> dict[str, Any]:
    """The simulate route's request body for the command line's call."""
    body: dict[str, Any] = {"from": args.from_, "to": args.to}
    if args.caller_kind:
        body["callerKind"] = args.caller_kind
    if args.at:
        body["at"] = args.at
    if args.header:
        headers = {}
        for item in args.header:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ValidationError(f"--header {item!r} must be NAME=VALUE", field="headers")
            headers[name] = value
        body["headers"] = headers
    return body


def run_simulation(path: str, body: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    ruleset, _ = load(path)
    return simulate(ruleset, parse_simulation(body, recordings_configured()), now or datetime.now(timezone.utc))


def render(answer: dict[str, Any]) -> str:
    """The route's JSON answer, one key a line and one evaluated rule a line."""
    lines = []
    for key, value in answer.items():
        if key == "evaluated":
            items = ",\n".join(f"    {json.dumps(e)}" for e in value)
            lines.append(f'  "evaluated": [\n{items}\n  ]' if value else '  "evaluated": []')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev rules", description="Check routing rules and simulate calls.")
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="validate a ruleset as the app does at load; one-line summary")
    checking.add_argument("file")
    simulating = commands.add_parser("simulate", help="print what POST /api/rules:simulate would answer")
    simulating.add_argument("file")
    simulating.add_argument("--from", dest="from_", required=True, help="the caller: E.164 number or raw id")
    simulating.add_argument("--to", required=True, help="the number or raw id called")
    simulating.add_argument("--at", help="when the call rings, ISO 8601 with offset (default: now)")
    simulating.add_argument("--caller-kind", help="the caller's kind (default: from --from)")
    simulating.add_argument("--header", action="append", help="a custom SIP or VoIP header, NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            print(check(args.file))
        else:
            print(render(run_simulation(args.file, simulation_body(args))))
    except CheckFailed as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"invalid call: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
