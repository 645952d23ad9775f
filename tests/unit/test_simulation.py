"""Simulating a routing decision: the trace names every rule tried and the keys that failed, for every match key;
a body ruleset is validated as at load; bad input is refused naming the field."""

from datetime import datetime, timezone

import pytest

from shared.domain.routing import parse_rules
from shared.domain.simulation import parse_simulation, simulate
from shared.errors import ValidationError

ACS_USER = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000000a1"
NY_HOURS = {"timezone": "America/New_York", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
            "end": "17:00"}
RULES = {
    "rules": [
        {"name": "block-premium", "match": {"from": ["+1900*"]}, "action": "reject", "reason": "forbidden"},
        {"name": "after-hours", "match": {"to": ["+18005550100"], "outside": NY_HOURS}, "action": "redirect",
         "target": "+18005550199"},
        {"name": "gold", "match": {"callerKind": ["communicationUser"], "headers": {"X-MS-Custom-Tier": "gold"}},
         "action": "answer", "then": {"ring": [ACS_USER], "timeoutSeconds": 20, "fallback": {"hangup": True}}},
        {"name": "office", "match": {"to": ["+18005550100"], "within": NY_HOURS}, "action": "answer"},
    ],
    "default": {"action": "reject", "reason": "busy"},
}
# Tuesday 2026-11-24, 14:00 in New York (EST): business hours.
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc)


def run(body, rules=RULES, now=NOW):
    return simulate(parse_rules(rules), parse_simulation(body), now)


def test_the_winner_is_named_with_every_rule_tried_before_it_and_the_keys_that_failed():
    result = run({"from": "+14255550123", "to": "+18005550100"})
    assert result == {
        "rule": "office", "action": "answer", "at": "2026-11-24T19:00:00Z",
        "evaluated": [
            {"rule": "block-premium", "matched": False, "failed": ["from"]},
            {"rule": "after-hours", "matched": False, "failed": ["outside"]},
            {"rule": "gold", "matched": False, "failed": ["callerKind", "headers"]},
            {"rule": "office", "matched": True},
        ]}


def test_rules_after_the_winner_are_not_evaluated():
    result = run({"from": "+19005550142", "to": "+18005550100"})
    assert result["rule"] == "block-premium" and result["reason"] == "forbidden"
    assert result["evaluated"] == [{"rule": "block-premium", "matched": True}]


def test_no_match_is_the_default_with_every_rule_evaluated():
    result = run({"from": "+14255550123", "to": "+18005550999"})
    assert result["rule"] == "default" and result["action"] == "reject" and result["reason"] == "busy"
    assert [e["rule"] for e in result["evaluated"]] == ["block-premium", "after-hours", "gold", "office"]
    # Every key that fails is named, not only the first: at 14:00 in New York `outside` fails too.
    assert result["evaluated"][1]["failed"] == ["to", "outside"]
    assert result["evaluated"][3]["failed"] == ["to"]


def test_redirect_answers_its_target():
    result = run({"from": "+14255550123", "to": "+18005550100", "at": "2026-11-24T23:30:00Z"})  # 18:30 in NY
    assert result["rule"] == "after-hours" and result["action"] == "redirect" and result["target"] == "+18005550199"
    assert "reason" not in result and "then" not in result


def test_answer_shows_its_follow_ups():
    result = run({"from": ACS_USER, "to": "+18005550555", "headers": {"x-ms-custom-tier": "gold"}})
    assert result["rule"] == "gold"
    assert result["then"] == {"ring": [ACS_USER], "strategy": "simultaneous", "timeoutSeconds": 20,
                              "fallback": {"hangup": True}}


def test_caller_kind_defaults_from_the_caller_and_can_be_given():
    by_default = run({"from": ACS_USER, "to": "+18005550555", "headers": {"X-MS-Custom-Tier": "gold"}})
    assert by_default["rule"] == "gold"
    given = run({"from": ACS_USER, "to": "+18005550555", "headers": {"X-MS-Custom-Tier": "gold"},
                 "callerKind": "microsoftTeamsUser"})
    assert given["rule"] == "default"
    assert given["evaluated"][2] == {"rule": "gold", "matched": False, "failed": ["callerKind"]}


def test_header_values_must_match_and_names_are_case_insensitive():
    body = {"from": ACS_USER, "to": "+18005550555"}
    assert run({**body, "headers": {"X-MS-CUSTOM-TIER": "silver"}})["evaluated"][2]["failed"] == ["headers"]
    assert run({**body, "headers": {"X-MS-CUSTOM-TIER": "gold"}})["rule"] == "gold"


def test_to_and_from_match_raw_ids_and_wildcards():
    rules = {"rules": [{"name": "acs-callers", "match": {"from": ["8:acs:*"], "to": ["+1800555*"]},
                        "action": "answer"}], "default": {"action": "reject"}}
    assert run({"from": ACS_USER, "to": "+18005550100"}, rules)["rule"] == "acs-callers"
    result = run({"from": "+14255550123", "to": "+14255550100"}, rules)
    assert result["evaluated"] == [{"rule": "acs-callers", "matched": False, "failed": ["to", "from"]}]
    assert run({"from": ACS_USER, "to": "4:+18005550100"}, rules)["rule"] == "acs-callers"  # raw phone id


@pytest.mark.parametrize("at, inside", [
    # Spring forward, 2026-03-08 (a Sunday): the window is every day 01:00-03:00 New York time.
    ("2026-03-08T06:59:00Z", True),    # 01:59 EST
    ("2026-03-08T07:00:00Z", False),   # 03:00 EDT: the clock skipped 02:00-03:00
    ("2026-03-08T05:59:00Z", False),   # 00:59 EST
    # Fall back, 2026-11-01: 01:30 happens twice, both inside.
    ("2026-11-01T05:30:00Z", True),    # 01:30 EDT
    ("2026-11-01T06:30:00Z", True),    # 01:30 EST
    ("2026-11-01T08:00:00Z", False),   # 03:00 EST
])
def test_time_windows_are_read_at_the_simulated_time_on_the_zones_wall_clock_across_dst(at, inside):
    window = {"timezone": "America/New_York", "start": "01:00", "end": "03:00"}
    rules = {"rules": [{"name": "night", "match": {"within": window}, "action": "answer"},
                       {"name": "not-night", "match": {"outside": window}, "action": "reject"}],
             "default": {"action": "reject", "reason": "busy"}}
    result = run({"from": "+14255550123", "to": "+18005550100", "at": at}, rules)
    assert result["rule"] == ("night" if inside else "not-night")
    assert result["at"] == at
    if not inside:
        assert result["evaluated"][0] == {"rule": "night", "matched": False, "failed": ["within"]}


def test_business_hours_follow_dst_at_the_simulated_time():
    # 09:30 New York on a Monday: 14:30Z in winter (EST), 13:30Z in summer (EDT).
    assert run({"from": "+14255550123", "to": "+18005550100", "at": "2026-01-05T14:30:00Z"})["rule"] == "office"
    assert run({"from": "+14255550123", "to": "+18005550100", "at": "2026-07-06T13:30:00Z"})["rule"] == "office"
    # The same UTC time is before opening in winter: 08:30 EST.
    assert run({"from": "+14255550123", "to": "+18005550100", "at": "2026-01-05T13:30:00Z"})["rule"] == "after-hours"
    assert run({"from": "+14255550123", "to": "+18005550100", "at": "2026-07-06T12:59:00Z"})["rule"] == "after-hours"


def test_at_may_carry_any_offset_and_is_answered_in_utc():
    result = run({"from": "+14255550123", "to": "+18005550100", "at": "2026-11-24T14:00:00-05:00"})
    assert result["at"] == "2026-11-24T19:00:00Z" and result["rule"] == "office"


def test_a_body_ruleset_is_simulated_instead_of_the_loaded_one():
    mine = {"rules": [{"name": "try-me", "match": {"to": ["+18005550100"]}, "action": "redirect",
                       "target": ACS_USER}], "default": {"action": "answer"}}
    result = run({"from": "+14255550123", "to": "+18005550100", "rules": mine})
    assert result["rule"] == "try-me" and result["target"] == ACS_USER
    assert run({"from": "+14255550123", "to": "+18005550101", "rules": mine})["rule"] == "default"


@pytest.mark.parametrize("rules, names", [
    ({"rules": [{"name": "vip", "match": {"to": ["+18005550100"]}, "action": "redirect", "target": "nobody"}],
      "default": {"action": "answer"}}, ["rule 'vip' (rules[0]).target", "nobody"]),
    ({"rules": [{"name": "late", "match": {"within": {"timezone": "Mars/Olympus", "start": "09:00", "end": "17:00"}},
                 "action": "answer"}], "default": {"action": "answer"}}, ["rule 'late'", "within.timezone"]),
    ({"rules": [{"name": "x", "action": "ring"}], "default": {"action": "answer"}}, ["rule 'x'", ".action"]),
    ({"rules": []}, ["default", "is required"]),
    ({"rules": [{"name": "bad-key", "match": {"too": ["+18005550100"]}, "action": "answer"}],
      "default": {"action": "answer"}}, ["rule 'bad-key'", "match.too", "unknown key"]),
    ([1, 2], ["must be an object"]),
])
def test_a_bad_body_ruleset_is_refused_naming_the_rule_and_field(rules, names):
    with pytest.raises(ValidationError) as refused:
        parse_simulation({"from": "+14255550123", "to": "+18005550100", "rules": rules})
    assert refused.value.field == "rules"
    assert str(refused.value).startswith("rules: ")
    for name in names:
        assert name in str(refused.value)


@pytest.mark.parametrize("body, field", [
    ({"to": "+18005550100"}, "from"),
    ({"from": "+14255550123"}, "to"),
    ({"from": "+14255550123", "to": "hello"}, "to"),
    ({"from": 14255550123, "to": "+18005550100"}, "from"),
    ({"from": "+14255550123", "to": "+18005550100", "callerKind": "robot"}, "callerKind"),
    ({"from": "+14255550123", "to": "+18005550100", "headers": ["X-MS-Custom-Tier"]}, "headers"),
    ({"from": "+14255550123", "to": "+18005550100", "headers": {"X-MS-Custom-Tier": 3}}, "headers.X-MS-Custom-Tier"),
    ({"from": "+14255550123", "to": "+18005550100", "at": "tomorrow"}, "at"),
    ({"from": "+14255550123", "to": "+18005550100", "at": "2026-12-25T15:00:00"}, "at"),
    ({"from": "+14255550123", "to": "+18005550100", "at": 1766674800}, "at"),
    ({"from": "+14255550123", "to": "+18005550100", "when": "now"}, "when"),
])
def test_bad_input_is_refused_naming_the_field(body, field):
    with pytest.raises(ValidationError) as refused:
        parse_simulation(body)
    assert refused.value.field == field, str(refused.value)


def test_deciding_is_the_decision_of_the_explanation():
    ruleset = parse_rules(RULES)
    for body in ({"from": "+19005550142", "to": "+18005550100"}, {"from": "+14255550123", "to": "+18005550100"},
                 {"from": ACS_USER, "to": "+18005550555", "headers": {"X-MS-Custom-Tier": "gold"}},
                 {"from": "+14255550123", "to": "+18005550999"}):
        call = parse_simulation(body).call
        for now in (NOW, datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)):
            assert ruleset.decide(call, now) == ruleset.explain(call, now).decision


CALENDAR_RULES = {
    "calendars": {"paris-holidays": {"timezone": "Europe/Paris", "dates": ["2026-07-14"]}},
    "rules": [{"name": "closed", "match": {"calendar": ["paris-holidays"]}, "action": "reject", "reason": "busy"},
              {"name": "open", "match": {"notCalendar": ["paris-holidays"]}, "action": "answer"}],
    "default": {"action": "reject"},
}


@pytest.mark.parametrize("at, rule, failed", [
    ("2026-07-13T21:59:00Z", "open", ["calendar"]),     # 23:59 on the 13th in Paris (CEST, UTC+2)
    ("2026-07-13T22:00:00Z", "closed", None),           # 00:00 on the 14th in Paris
    ("2026-07-14T21:59:00Z", "closed", None),           # 23:59 on the 14th
    ("2026-07-14T22:00:00Z", "open", ["calendar"]),     # the 15th
])
def test_calendars_and_not_calendars_are_read_at_the_simulated_time_in_the_calendars_timezone(at, rule, failed):
    result = run({"from": "+14255550123", "to": "+18005550100", "at": at}, CALENDAR_RULES)
    assert result["rule"] == rule
    if failed:
        assert result["evaluated"][0] == {"rule": "closed", "matched": False, "failed": failed}


def test_not_calendar_fails_on_the_calendars_dates():
    rules = {**CALENDAR_RULES, "rules": CALENDAR_RULES["rules"][1:]}
    result = run({"from": "+14255550123", "to": "+18005550100", "at": "2026-07-14T12:00:00Z"}, rules)
    assert result["rule"] == "default"
    assert result["evaluated"] == [{"rule": "open", "matched": False, "failed": ["notCalendar"]}]


def test_a_body_ruleset_with_a_voicemail_is_validated_as_at_load():
    rules = {"flows": {"vm": {"voicemail": {"prompt": "https://media.example.com/vm.wav", "maxSeconds": 60}}},
             "rules": [], "default": {"action": "answer", "then": {"flow": "vm"}}}
    with pytest.raises(ValidationError) as refused:
        parse_simulation({"from": "+14255550123", "to": "+18005550100", "rules": rules})
    assert "RECORDINGS_CONTAINER_URL" in str(refused.value) and refused.value.field == "rules"
    sim = parse_simulation({"from": "+14255550123", "to": "+18005550100", "rules": rules}, recordings_configured=True)
    assert simulate(parse_rules(RULES), sim, NOW)["then"] == {"flow": "vm"}
