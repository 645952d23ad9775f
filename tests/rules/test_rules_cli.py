"""`./dev rules check` and `./dev rules simulate` as an operator runs them: exit codes, the one-line summary, the
error naming the rule and field for every ruleset of the bad corpus (tests/rules/bad/)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).resolve().parent / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text())


def rules(*args: str) -> subprocess.CompletedProcess:
    # As the sample settings run the app: rules.example.json's voicemail flow needs RECORDINGS_CONTAINER_URL.
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]["RECORDINGS_CONTAINER_URL"]
    env = {**os.environ, "RECORDINGS_CONTAINER_URL": os.environ.get("RECORDINGS_CONTAINER_URL") or sample}
    return subprocess.run([str(ROOT / "dev"), "rules", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=env)


def test_the_example_rules_pass_with_a_one_line_summary():
    done = rules("check", "rules.example.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "rules.example.json: valid: 9 rules, 4 flows, 1 calendar, 5 numbers routed (+18005550100, +18005550177, "
        "+18005550140, +18005550142, +18005550111), 2 rules for any number; default: reject (busy)"]


def test_the_deployed_rules_pass():
    done = rules("check", "infra/routing-rules.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "infra/routing-rules.json: valid: 0 rules, 0 flows, 0 calendars, 0 numbers routed; default: answer\n"


def test_the_corpus_lists_every_bad_file():
    assert set(EXPECTED) == {p.name for p in BAD.glob("*.json")} - {"expected.json"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_ruleset_exits_1_naming_the_rule_and_field(name):
    done = rules("check", str(BAD / name))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"invalid: {BAD / name}")
    for fragment in EXPECTED[name]:
        assert fragment in done.stderr, done.stderr


def test_a_missing_file_exits_1_saying_so():
    done = rules("check", "no/such/rules.json")
    assert done.returncode == 1 and "no/such/rules.json: cannot be read" in done.stderr


def test_simulate_prints_the_routes_answer_as_json():
    done = rules("simulate", "rules.example.json", "--from", "+14255550123", "--to", "+18005550100",
                 "--at", "2026-12-25T23:00:00Z")  # 18:00 in New York: after hours
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {"rule": "after-hours", "action": "redirect", "target": "+18005550199",
                      "at": "2026-12-25T23:00:00Z",
                      "evaluated": [{"rule": "block-premium", "matched": False, "failed": ["from"]},
                                    {"rule": "after-hours", "matched": True}]}


def test_simulate_takes_headers_and_the_caller_kind():
    agent = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000000a9"
    done = rules("simulate", "rules.example.json", "--from", agent, "--to", "+18005550999",
                 "--header", "X-MS-Custom-Tier=gold")
    assert done.returncode == 0 and json.loads(done.stdout)["rule"] == "agents-only"
    done = rules("simulate", "rules.example.json", "--from", agent, "--to", "+18005550999",
                 "--header", "X-MS-Custom-Tier=gold", "--caller-kind", "microsoftTeamsUser")
    assert done.returncode == 0 and json.loads(done.stdout)["rule"] == "default"


@pytest.mark.parametrize("args, message", [
    (["--from", "+14255550123", "--to", "nobody"], "invalid call: to"),
    (["--from", "+14255550123", "--to", "+18005550100", "--at", "2026-12-25 15:00"], "invalid call: at has no UTC offset"),
    (["--from", "+14255550123", "--to", "+18005550100", "--header", "X-MS-Custom-Tier"], "NAME=VALUE"),
])
def test_simulate_refuses_a_bad_call_with_exit_1_naming_the_field(args, message):
    done = rules("simulate", "rules.example.json", *args)
    assert done.returncode == 1 and message in done.stderr, done.stderr


def test_simulate_refuses_a_bad_ruleset_with_exit_1():
    done = rules("simulate", str(BAD / "target-not-an-id.json"), "--from", "+14255550123", "--to", "+18005550100")
    assert done.returncode == 1 and "rule 'vip' (rules[0]).target" in done.stderr


def test_a_ruleset_with_flows_and_calendars_is_summarised():
    done = rules("check", "tests/rules/good/flows.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("tests/rules/good/flows.json: valid: 2 rules, 2 flows, 1 calendar, 1 number routed "
                           "(+18005550100); default: reject (busy)\n")


@pytest.mark.parametrize("at, rule", [
    ("2026-12-25T05:00:00Z", "holiday"),   # 00:00 on Christmas Day in New York
    ("2026-12-25T04:59:00Z", "main"),      # 23:59 on Christmas Eve in New York (already the 25th in UTC)
    ("2026-12-26T04:59:00Z", "holiday"),   # 23:59 on Christmas Day in New York
    ("2026-12-26T05:00:00Z", "main"),      # the day after
    ("2027-01-01T12:00:00Z", "holiday"),   # inside the range 2026-12-31..2027-01-01
])
def test_simulate_reads_calendars_in_their_timezone_at_the_simulated_time(at, rule):
    done = rules("simulate", "tests/rules/good/flows.json", "--from", "+14255550123", "--to", "+18005550100",
                 "--at", at)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["rule"] == rule
    if rule == "main":
        assert answer["evaluated"][0] == {"rule": "holiday", "matched": False, "failed": ["calendar"]}
    else:
        assert answer["then"] == {"flow": "closed"}
