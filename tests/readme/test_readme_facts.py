"""What the README states about the code, checked against the code: the rules example, the settings, the auth levels."""

from __future__ import annotations

import json
import re

import pytest

import function_app
from devtools.host import discover
from devtools.stack import PROJECT_ROOT
from shared.config import SETTING_NAMES
from shared.telemetry import CONNECTION_STRING as TELEMETRY_SETTING
from shared.domain.routing import parse_rules
from shared.errors import RulesError
from tests.readme import readme


def test_the_rules_block_is_rules_example_json() -> None:
    body = readme.section("Routing rules")
    assert "`rules.example.json`" in body
    block = readme.code_blocks(body, "json")[0]
    assert block == (PROJECT_ROOT / "rules.example.json").read_text(encoding="utf-8")


def test_the_rules_example_loads_and_a_ruleset_without_default_is_refused_as_the_readme_says() -> None:
    body = readme.section("Routing rules")
    document = json.loads(readme.code_blocks(body, "json")[0])
    parse_rules(document)
    assert "`default` is required" in " ".join(body.split())
    without = {key: value for key, value in document.items() if key != "default"}
    with pytest.raises(RulesError, match="default"):
        parse_rules(without)


def test_the_settings_table_lists_every_setting_the_app_reads() -> None:
    rows = readme.table_with(readme.section("Settings"), "setting")
    listed = [row[0].strip("`") for row in rows]
    # The telemetry setting is read by shared/telemetry.py (and by the Functions host), not by shared/config.py.
    assert sorted(listed) == sorted((*SETTING_NAMES, TELEMETRY_SETTING))


def test_the_anonymous_routes_the_readme_names_are_the_registered_anonymous_routes() -> None:
    body = readme.section("Call control API").replace("\n", " ")
    match = re.search(r"Anonymous routes: (.*?) \(a test checks", body)
    assert match, "the Call control API section should list the anonymous routes"
    named = set(re.findall(r"`(GET|POST|PUT|DELETE) /api/([^`]+)`", match.group(1)))
    http_functions, _ = discover(function_app.app)
    anonymous = {(method, f.route) for f in http_functions if f.auth_level.lower() == "anonymous"
                 for method in f.methods}
    assert named == anonymous
