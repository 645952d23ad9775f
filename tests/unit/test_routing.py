"""Routing rules: every match key, windows across midnight and DST, and rulesets refused at load."""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.domain.events import parse_incoming_call
from shared.domain.routing import Answer, Redirect, Reject, load_rules, parse_rules
from shared.errors import RulesError
from tests.payloads import load_event

PROJECT = Path(__file__).resolve().parents[2]
ISSUE_EXAMPLE = {
    "rules": [
        {"name": "block-premium", "match": {"from": ["+1900*"]}, "action": "reject", "reason": "forbidden"},
        {"name": "after-hours", "match": {"to": ["+18005550100"], "outside": {
            "timezone": "America/New_York", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
            "end": "17:00"}}, "action": "redirect", "target": "+18005550199"},
        {"name": "agents-only", "match": {"callerKind": ["communicationUser"], "headers": {"X-MS-Custom-Tier": "gold"}},
         "action": "redirect", "target": "8:acs:..."},
        {"name": "support", "match": {"to": ["+18005550100"]}, "action": "answer"},
    ],
    "default": {"action": "reject", "reason": "busy"},
}
# A Tuesday, 14:00 in New York (EST, UTC-5): inside business hours.
TUESDAY_AFTERNOON = datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc)
# The same Tuesday at 20:00 in New York: after hours.
TUESDAY_EVENING = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)


def incoming(name="eventgrid_incoming_call_phone", frm=None, to=None, sip=None, voip=None):
    event = load_event(name)[0]
    data = event["data"]
    if frm is not None:
        data["from"] = {"kind": "phoneNumber", "rawId": "4:" + frm, "phoneNumber": {"value": frm}}
    if to is not None:
        data["to"] = {"kind": "phoneNumber", "rawId": "4:" + to, "phoneNumber": {"value": to}}
    if sip is not None:
        data["customContext"]["sipHeaders"] = sip
    if voip is not None:
        data["customContext"]["voipHeaders"] = voip
    return parse_incoming_call(event["id"], event["eventTime"], data)


def decide(document, call, now=TUESDAY_AFTERNOON):
    return parse_rules(document).decide(call, now)


def test_the_issue_example_ruleset_loads_as_written():
    ruleset = parse_rules(ISSUE_EXAMPLE)
    assert [r.name for r in ruleset.rules] == ["block-premium", "after-hours", "agents-only", "support"]
    assert ruleset.default == Reject(rule="default", reason="busy")


def test_rejects_premium_numbers_with_forbidden():
    assert decide(ISSUE_EXAMPLE, incoming(frm="+19005550111")) == Reject(rule="block-premium", reason="forbidden")


def test_answers_support_line_in_business_hours():
    assert decide(ISSUE_EXAMPLE, incoming(frm="+14255550123")) == Answer(rule="support")


def test_redirects_support_line_after_hours():
    decision = decide(ISSUE_EXAMPLE, incoming(), now=TUESDAY_EVENING)
    assert isinstance(decision, Redirect) and decision.rule == "after-hours"
    assert decision.target.raw_id == "4:+18005550199"


def test_redirects_gold_acs_callers_by_voip_header():
    decision = decide(ISSUE_EXAMPLE, incoming("eventgrid_incoming_call_acs_user"))
    assert isinstance(decision, Redirect) and decision.rule == "agents-only"
    assert decision.target.raw_id == "8:acs:..."


def test_caller_kind_must_match_even_when_headers_do():
    # The phone payload carries X-MS-Custom-Tier: gold too, but its caller is a phone number.
    call = incoming(to="+18005550155")
    assert decide(ISSUE_EXAMPLE, call) == Reject(rule="default", reason="busy")


def test_first_matching_rule_wins():
    rules = {"rules": [{"name": "a", "match": {"to": ["+1800*"]}, "action": "answer"},
                       {"name": "b", "match": {"to": ["+18005550100"]}, "action": "reject"}],
             "default": {"action": "reject"}}
    assert decide(rules, incoming()).rule == "a"


def test_default_applies_when_nothing_matches():
    rules = {"rules": [{"name": "a", "match": {"to": ["+447700900123"]}, "action": "answer"}],
             "default": {"action": "redirect", "target": "+18005550199"}}
    decision = decide(rules, incoming())
    assert isinstance(decision, Redirect) and decision.rule == "default"


def test_a_rule_without_match_matches_every_call():
    rules = {"rules": [{"name": "all", "action": "answer"}], "default": {"action": "reject"}}
    assert decide(rules, incoming()) == Answer(rule="all")


def test_from_matches_raw_ids_of_acs_users_with_wildcards():
    rules = {"rules": [{"name": "acs", "match": {"from": ["8:acs:11111111-*"]}, "action": "answer"}],
             "default": {"action": "reject"}}
    assert decide(rules, incoming("eventgrid_incoming_call_acs_user")).rule == "acs"
    assert decide(rules, incoming()).rule == "default"


def test_teams_callers_are_matched_by_kind():
    rules = {"rules": [{"name": "teams", "match": {"callerKind": ["microsoftTeamsUser"]}, "action": "answer"}],
             "default": {"action": "reject"}}
    assert decide(rules, incoming("eventgrid_incoming_call_teams_user")).rule == "teams"
    assert decide(rules, incoming()).rule == "default"


def test_header_names_match_case_insensitively_and_values_exactly():
    rules = {"rules": [{"name": "gold", "match": {"headers": {"x-ms-custom-tier": "gold"}}, "action": "answer"}],
             "default": {"action": "reject"}}
    assert decide(rules, incoming(sip={"X-MS-Custom-Tier": "gold"})).rule == "gold"
    assert decide(rules, incoming(sip={"X-MS-Custom-Tier": "golden"})).rule == "default"
    assert decide(rules, incoming(sip={}, voip={})).rule == "default"


def test_header_values_may_list_alternatives():
    rules = {"rules": [{"name": "tier", "match": {"headers": {"X-MS-Custom-Tier": ["gold", "silver"]}},
                        "action": "answer"}], "default": {"action": "reject"}}
    assert decide(rules, incoming(sip={"X-MS-Custom-Tier": "silver"})).rule == "tier"


def window_rules(key, start, end, days=None, tz="America/New_York"):
    window = {"timezone": tz, "start": start, "end": end}
    if days:
        window["days"] = days
    return {"rules": [{"name": "w", "match": {key: window}, "action": "answer"}], "default": {"action": "reject"}}


def at(text):
    return datetime.fromisoformat(text).astimezone(timezone.utc)


@pytest.mark.parametrize("local_time,expected", [
    ("2026-11-27T23:30:00-05:00", "w"),        # Friday evening, inside
    ("2026-11-28T02:00:00-05:00", "w"),        # Saturday early hours belong to Friday's night
    ("2026-11-28T06:00:00-05:00", "default"),  # the end is exclusive
    ("2026-11-28T23:00:00-05:00", "default"),  # Saturday evening: Saturday is not listed
    ("2026-11-30T05:00:00-05:00", "default"),  # Monday early hours belong to Sunday, not listed
    ("2026-11-27T21:59:00-05:00", "default"),  # Friday before the start
])
def test_window_across_midnight_belongs_to_the_day_it_starts(local_time, expected):
    rules = window_rules("within", "22:00", "06:00", days=["fri"])
    assert decide(rules, incoming(), now=at(local_time)).rule == expected


def test_business_hours_follow_daylight_saving_time():
    rules = window_rules("within", "09:00", "17:00", days=["mon", "tue", "wed", "thu", "fri"])
    # 13:30 UTC is 09:30 in New York in summer (EDT) but 08:30 in winter (EST).
    assert decide(rules, incoming(), now=datetime(2026, 3, 9, 13, 30, tzinfo=timezone.utc)).rule == "w"
    assert decide(rules, incoming(), now=datetime(2026, 3, 6, 13, 30, tzinfo=timezone.utc)).rule == "default"


def test_the_skipped_hour_at_spring_forward_is_never_inside_it():
    rules = window_rules("within", "02:00", "03:00")
    # 2026-03-08 in New York: 01:59 EST is followed by 03:00 EDT.
    assert decide(rules, incoming(), now=datetime(2026, 3, 8, 6, 59, tzinfo=timezone.utc)).rule == "default"
    assert decide(rules, incoming(), now=datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)).rule == "default"


def test_the_repeated_hour_at_fall_back_is_inside_both_times():
    rules = window_rules("within", "01:00", "02:00")
    # 2026-11-01 in New York: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert decide(rules, incoming(), now=datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)).rule == "w"
    assert decide(rules, incoming(), now=datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)).rule == "w"


def test_outside_is_the_complement_of_within():
    rules = window_rules("outside", "09:00", "17:00", days=["mon"])
    assert decide(rules, incoming(), now=at("2026-11-30T10:00:00-05:00")).rule == "default"
    assert decide(rules, incoming(), now=at("2026-11-30T18:00:00-05:00")).rule == "w"
    assert decide(rules, incoming(), now=at("2026-12-01T10:00:00-05:00")).rule == "w"


def test_a_window_can_run_to_the_end_of_the_day():
    rules = window_rules("within", "18:00", "24:00", tz="Europe/London")
    assert decide(rules, incoming(), now=datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc)).rule == "w"
    assert decide(rules, incoming(), now=datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc)).rule == "default"


def test_answer_rules_carry_their_follow_up_plan():
    rules = {"rules": [{"name": "support", "match": {"to": ["+18005550100"]}, "action": "answer", "then": {
        "ring": ["8:acs:agent-1", "8:acs:agent-2", "+14255550111"], "strategy": "simultaneous", "timeoutSeconds": 20,
        "callerId": "+18005550100", "fallback": {"transfer": "+18005550199"}}}], "default": {"action": "reject"}}
    plan = decide(rules, incoming()).plan
    assert [t.raw_id for t in plan.ring] == ["8:acs:agent-1", "8:acs:agent-2", "4:+14255550111"]
    assert plan.timeout_seconds == 20 and plan.fallback.transfer.raw_id == "4:+18005550199"


@pytest.mark.parametrize("document,names", [
    ({"rules": [{"name": "x", "action": "hold"}], "default": {"action": "reject"}}, ["rule 'x'", "action", "hold"]),
    ({"rules": [{"name": "x", "action": "reject", "reason": "later"}], "default": {"action": "reject"}},
     ["rule 'x'", "reason", "later"]),
    ({"rules": [{"name": "x", "match": {"from": ["+1-900"]}, "action": "answer"}], "default": {"action": "reject"}},
     ["rule 'x'", "match.from[0]", "E.164"]),
    ({"rules": [{"name": "x", "match": {"to": ["+0123456789"]}, "action": "answer"}], "default": {"action": "reject"}},
     ["rule 'x'", "match.to[0]"]),
    ({"rules": [{"name": "x", "match": {"within": {"timezone": "Mars/Olympus", "start": "09:00", "end": "17:00"}},
                 "action": "answer"}], "default": {"action": "reject"}}, ["rule 'x'", "timezone", "Mars/Olympus"]),
    ({"rules": [{"name": "x", "match": {"caller": ["+1425"]}, "action": "answer"}], "default": {"action": "reject"}},
     ["rule 'x'", "match.caller", "unknown key"]),
    ({"rules": [{"name": "x", "action": "answer", "colour": "red"}], "default": {"action": "reject"}},
     ["rule 'x'", "colour", "unknown key"]),
    ({"rules": [{"name": "x", "action": "redirect"}], "default": {"action": "reject"}}, ["rule 'x'", "target"]),
    ({"rules": [{"name": "x", "action": "redirect", "target": "bob"}], "default": {"action": "reject"}},
     ["rule 'x'", "target", "bob"]),
    ({"rules": [{"name": "x", "match": {"within": {"timezone": "UTC", "start": "25:00", "end": "17:00"}},
                 "action": "answer"}], "default": {"action": "reject"}}, ["rule 'x'", "within.start"]),
    ({"rules": [{"name": "x", "match": {"within": {"timezone": "UTC", "days": ["funday"], "start": "09:00",
                                                   "end": "17:00"}}, "action": "answer"}],
      "default": {"action": "reject"}}, ["rule 'x'", "days[0]", "funday"]),
    ({"rules": [{"name": "x", "match": {"callerKind": ["robot"]}, "action": "answer"}],
      "default": {"action": "reject"}}, ["rule 'x'", "callerKind[0]", "robot"]),
    ({"rules": [{"name": "x", "action": "answer", "then": {"ring": ["+14255550111"], "timeoutSeconds": 600}}],
      "default": {"action": "reject"}}, ["rule 'x'", "then.timeoutSeconds"]),
    ({"rules": [{"name": "x", "action": "answer"}, {"name": "x", "action": "reject"}],
      "default": {"action": "reject"}}, ["rules[1].name", "'x'"]),
    ({"rules": []}, ["default", "required"]),
    ({"rules": [], "default": {"action": "reject", "match": {}}}, ["default.match"]),
])
def test_invalid_rulesets_are_refused_naming_the_rule_and_field(document, names):
    with pytest.raises(RulesError) as caught:
        parse_rules(document)
    for name in names:
        assert name in str(caught.value)


def test_rules_that_are_not_json_are_refused_naming_the_setting():
    with pytest.raises(RulesError, match="ROUTING_RULES is not valid JSON"):
        load_rules('{"rules": [', "ROUTING_RULES")


def test_the_shipped_example_rules_file_is_valid():
    # As the app loads it with the sample settings, which set RECORDINGS_CONTAINER_URL (its voicemail needs it).
    ruleset = load_rules((PROJECT / "rules.example.json").read_text(), "rules.example.json",
                         recordings_configured=True)
    assert ruleset.rules and ruleset.default.action == "reject"
