"""The local demo: Azurite + the ACS emulator + the local host, then sample calls answered, rejected and redirected.

python -m devtools.demo [--keep-running] [--host-port 7071] [--emulator-port 8089]

SIGTERM and SIGINT (Ctrl-C) stop it and the processes it started (Azurite, the emulator, the host), at any point.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import datetime
from typing import Any

from devtools.stack import LocalStack, http_json

SAMPLE_CALLS = (
    {"title": "a customer calls the support line", "from": "+14255550123", "to": "+18005550111"},
    {"title": "a premium-rate number calls", "from": "+19005550142", "to": "+18005550100"},
    {"title": "a call to the overflow line", "from": "+14255550188", "to": "+18005550177"},
    {"title": "a gold-tier agent calls over VoIP", "from": "8:acs:00000000-0000-0000-0000-000000000000_0000000000b2",
     "to": "8:acs:00000000-0000-0000-0000-000000000000_00000000000ff", "voipHeaders": {"X-MS-Custom-Tier": "gold"}},
    {"title": "a call to a number no rule knows", "from": "+442079460000", "to": "+18005550999"},
)


HOST_PORT, EMULATOR_PORT = 7071, 8089  # local.settings.sample.json's, the README's


def _stop(signum: int, frame: object) -> None:
    """SIGTERM/SIGINT: unwind through the stack's `with`, which stops its processes; a second signal waits."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _idle(stack: LocalStack) -> None:
    http_json("POST", f"{stack.emulator_url}/emulator/idle?timeout=10")


def _timeline(call: dict[str, Any]) -> list[str]:
    start = datetime.fromisoformat(call["startedAt"])
    lines = []
    for event in call["events"]:
        offset = (datetime.fromisoformat(event["time"]) - start).total_seconds() * 1000
        extra = ""
        if "participants" in event:
            extra = f" participants={len(event['participants'])} seq={event.get('sequenceNumber')}"
        if "resultInformation" in event:
            result = event["resultInformation"]
            extra += f" result={result.get('code')}/{result.get('subCode')}"
        lines.append(f"      +{offset:7.0f} ms  {event['type']}{extra}")
    return lines


def _describe(call: dict[str, Any]) -> str:
    decision = call.get("decision") or {}
    detail = decision.get("reason") or decision.get("target") or ""
    return (f"{decision.get('action', '?')}{' ' + detail if detail else ''} (rule {decision.get('rule', '?')!r})"
            f" -> state {call['state']}")


def run(keep_running: bool, host_port: int = HOST_PORT, emulator_port: int = EMULATOR_PORT) -> int:
    print("starting Azurite, the ACS emulator and the local Functions host ...", flush=True)
    # The ports of local.settings.sample.json when they are free, so the README's curl lines work as written.
    with LocalStack(host_port=host_port, emulator_port=emulator_port) as stack:
        print(f"  local host: {stack.host_url}   emulator: {stack.emulator_url}   "
              f"Azurite tables: port {stack.azurite.port}", flush=True)
        for name, wanted, got in (("local host", host_port, stack.host_port),
                                  ("emulator", emulator_port, stack.emulator_port)):
            if wanted != got:
                print(f"  port {wanted} is in use (another demo, or `func start`?): the {name} listens on {got} "
                      f"instead; use that port in the README's examples", flush=True)
        print(flush=True)
        answered = []
        for sample in SAMPLE_CALLS:
            body = {k: v for k, v in sample.items() if k != "title"}
            status, event = http_json("POST", f"{stack.emulator_url}/emulator/incoming-calls", body)
            if status != 201:
                print(f"could not place the call: {status} {event}", file=sys.stderr)
                return 1
            _idle(stack)
            status, listing = http_json("GET", f"{stack.host_url}/api/calls?limit=50")
            call_id = next(c["id"] for c in listing["calls"] if c["correlationId"] == event["data"]["correlationId"])
            _, call = http_json("GET", f"{stack.host_url}/api/calls/{call_id}")
            print(f"* {sample['title']}: {sample['from']} -> {sample['to']}")
            print(f"    decision: {_describe(call)}")
            print("\n".join(_timeline(call)) or "      (no callbacks follow a reject or a redirect)")
            if call["state"] == "connected":
                answered.append(call)
        for call in answered:
            http_json("POST", f"{stack.emulator_url}/emulator/calls/{call['callConnectionId']}/hang-up", {})
            _idle(stack)
            _, ended = http_json("GET", f"{stack.host_url}/api/calls/{call['callConnectionId']}")
            print(f"\n* the caller of {call['callConnectionId']} hangs up: state {ended['state']}")
            print("\n".join(_timeline(ended)))
        _, listing = http_json("GET", f"{stack.host_url}/api/calls?limit=50")
        print(f"\n{len(listing['calls'])} calls recorded in Table Storage (Azurite). "
              f"State API: {stack.host_url}/api/calls")
        print(f"Console (calls and their sequence diagrams): {stack.host_url}/api/console"
              + ("" if keep_running else "   (./dev demo --keep-running keeps it up)"), flush=True)
        if keep_running:
            print("running until Ctrl-C (or SIGTERM) ...", flush=True)
            while True:
                time.sleep(3600)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up after the sample calls")
    parser.add_argument("--host-port", type=int, default=HOST_PORT,
                        help="the local host's port, when free (else another, printed)")
    parser.add_argument("--emulator-port", type=int, default=EMULATOR_PORT,
                        help="the ACS emulator's port, when free (else another, printed)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        code = run(args.keep_running, args.host_port, args.emulator_port)
    except SystemExit as stopped:
        print("stopped: Azurite, the emulator and the host are down", file=sys.stderr, flush=True)
        code = 0 if stopped.code == 128 + signal.SIGINT else stopped.code
    sys.exit(code)


if __name__ == "__main__":
    main()
