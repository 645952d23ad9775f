"""POST /api/rules:simulate through the registered function on the local host: the loaded ruleset's decision and
trace, a body ruleset, bad input; ACS is never called and no table row is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from azure.data.tables.aio import TableServiceClient

from devtools.host import discover
from tests.e2e.conftest import AGENT, E2E_RULES

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


async def every_row(stack) -> dict[tuple[str, str, str], str]:
    """Every row of every table in the storage account, with its ETag."""
    found = {}
    async with TableServiceClient.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"]) as service:
        async for table in service.list_tables():
            async for entity in service.get_table_client(table.name).list_entities():
                found[(table.name, entity["PartitionKey"], entity["RowKey"])] = entity.metadata["etag"]
    return found


async def simulate(stack, body):
    return await stack.post(f"{stack.url}/api/rules:simulate", body)


def test_the_route_is_registered_post_only_with_function_auth_level():
    import function_app

    http, _ = discover(function_app.app)
    function = next(f for f in http if f.name == "simulate_rules")
    assert function.route == "rules:simulate" and function.methods == ("POST",)
    assert function.auth_level.lower() == "function"


async def test_simulating_the_loaded_rules_names_the_winner_and_every_rule_before_it(stack):
    status, body = await simulate(stack, {"from": "+14255550123", "to": "+18005550177"})
    assert status == 200, body
    assert body["rule"] == "overflow" and body["action"] == "redirect" and body["target"] == "+18005550199"
    assert body["evaluated"] == [
        {"rule": "block-premium", "matched": False, "failed": ["from"]},
        {"rule": "busy-line", "matched": False, "failed": ["to"]},
        {"rule": "closed-line", "matched": False, "failed": ["to"]},
        {"rule": "overflow", "matched": True},
    ]


async def test_the_default_is_named_when_no_rule_matches(stack):
    status, body = await simulate(stack, {"from": "+14255550123", "to": "+18005550999",
                                          "at": "2026-12-25T15:00:00Z"})
    assert status == 200 and body["rule"] == "default" and body["action"] == "reject" and body["reason"] == "busy"
    assert body["at"] == "2026-12-25T15:00:00Z"
    assert [e["rule"] for e in body["evaluated"]] == [r["name"] for r in E2E_RULES["rules"]]
    assert not any(e["matched"] for e in body["evaluated"])


async def test_follow_ups_and_header_rules_are_simulated(stack):
    status, body = await simulate(stack, {"from": "+14255550123", "to": "+18005550121"})
    assert status == 200 and body["rule"] == "ring-in-turn" and body["then"]["strategy"] == "sequential"
    status, body = await simulate(stack, {"from": AGENT, "to": "+18005550555", "headers": {"X-MS-Custom-Tier": "gold"}})
    assert status == 200 and body["rule"] == "gold" and body["action"] == "answer"


async def test_a_body_ruleset_is_simulated_and_a_bad_one_is_refused_naming_rule_and_field(stack):
    mine = {"rules": [{"name": "new-line", "match": {"to": ["+18005550999"]}, "action": "answer"}],
            "default": {"action": "reject"}}
    status, body = await simulate(stack, {"from": "+14255550123", "to": "+18005550999", "rules": mine})
    assert status == 200 and body["rule"] == "new-line"
    assert body["evaluated"] == [{"rule": "new-line", "matched": True}]

    bad = {"rules": [{"name": "vip", "match": {"to": ["+18005550999"]}, "action": "redirect", "target": "nobody"}],
           "default": {"action": "reject"}}
    status, problem = await simulate(stack, {"from": "+14255550123", "to": "+18005550999", "rules": bad})
    assert status == 400 and problem["field"] == "rules"
    assert "rule 'vip' (rules[0]).target" in problem["detail"]


@pytest.mark.parametrize("body, field", [
    ({"to": "+18005550100"}, "from"),
    ({"from": "+14255550123", "to": "not a number"}, "to"),
    ({"from": "+14255550123", "to": "+18005550100", "at": "2026-12-25T15:00:00"}, "at"),
    ({"from": "+14255550123", "to": "+18005550100", "callerKind": "robot"}, "callerKind"),
    ({"from": "+14255550123", "to": "+18005550100", "extra": 1}, "extra"),
])
async def test_bad_input_is_a_400_problem_naming_the_field(stack, body, field):
    status, problem = await simulate(stack, body)
    assert status == 400 and problem["field"] == field, problem


async def test_bad_json_is_a_400(stack):
    status, problem = await stack.post(f"{stack.url}/api/rules:simulate", data=b"{not json")
    assert status == 400 and problem["status"] == 400


async def test_simulating_never_calls_acs_and_writes_nothing(stack):
    await stack.emulator.idle()
    requests_before, rows_before = len(stack.emulator.requests), await every_row(stack)
    for body in ({"from": "+14255550123", "to": "+18005550100"}, {"from": "+14255550123", "to": "+18005550120"},
                 {"from": "+19005550142", "to": "+18005550100"}, {"from": "+14255550123", "to": "+18005550178"},
                 {"from": "+14255550123", "to": "+18005550999"}, {"to": "+18005550999"}):
        status, _ = await simulate(stack, body)
        assert status in (200, 400)
    await stack.emulator.idle()
    assert len(stack.emulator.requests) == requests_before
    assert await every_row(stack) == rows_before


BAD = Path(__file__).resolve().parents[1] / "rules" / "bad"


@pytest.mark.parametrize("name", sorted(n for n in json.loads((BAD / "expected.json").read_text())
                                        if n != "not-json.json"))
async def test_every_bad_ruleset_of_the_corpus_is_a_400_naming_rule_and_field(stack, name):
    expected = json.loads((BAD / "expected.json").read_text())[name]
    status, problem = await simulate(stack, {"from": "+14255550123", "to": "+18005550100",
                                             "rules": json.loads((BAD / name).read_text())})
    assert status == 400 and problem["field"] == "rules"
    for fragment in expected:
        assert fragment in problem["detail"], problem["detail"]


@pytest.mark.parametrize("args", [
    ["--from", "+14255550123", "--to", "+18005550100", "--at", "2026-12-25T23:00:00Z"],
    ["--from", "+19005550142", "--to", "+18005550100", "--at", "2026-12-24T15:00:00Z"],
    ["--from", "+14255550123", "--to", "+18005550999", "--at", "2026-06-01T12:00:00+02:00"],
    ["--from", AGENT, "--to", "+18005550999", "--header", "X-MS-Custom-Tier=gold", "--at", "2026-06-01T12:00:00Z"],
])
async def test_the_cli_prints_what_the_route_answers_for_the_same_ruleset(stack, args):
    done = subprocess.run([sys.executable, "-m", "devtools.rules", "simulate", "rules.example.json", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    flags = dict(zip(args[::2], args[1::2]))
    body = {"from": flags["--from"], "to": flags["--to"], "at": flags["--at"],
            "rules": json.loads((ROOT / "rules.example.json").read_text())}
    if "--header" in flags:
        name, _, value = flags["--header"].partition("=")
        body["headers"] = {name: value}
    status, answer = await simulate(stack, body)
    assert status == 200 and json.loads(done.stdout) == answer
