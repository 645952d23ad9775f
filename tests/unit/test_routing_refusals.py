"""Every way a ruleset's rules are refused, with the exact message and field the operator sees, and what the
match keys load as. (The README promises errors that name the rule and the field; the message text is what the
operator reads in the log, so it is asserted whole.) The steps of `then` (shared/domain/steps.py) have their
own tests."""

import pytest

from shared.domain.routing import load_rules, parse_rules
from shared.errors import RulesError

D = {"action": "reject"}
R = "rule 'x' (rules[0])"


def rule(**spec):
    return {"rules": [{"name": "x", **spec}], "default": D}


def answer_then(then):
    return rule(action="answer", then=then)


def window(key="within", **spec):
    return rule(action="answer", match={key: spec})


RING1 = ["+18005550199"]
REFUSED = [
    ([], "rules document: must be an object", "rules document"),
    ({"rules": [], "default": D, "x": 1}, "rules document.x: unknown key (allowed: calendars, default, flows, rules)", "rules document.x"),
    ({"rules": {}, "default": D}, "rules: must be a list of rules", "rules"),
    ({"rules": [1], "default": D}, "rules[0]: must be an object", "rules[0]"),
    ({"rules": [{"name": " ", "action": "answer"}], "default": D}, "rules[0].name: must be a non-empty string",
     "rules[0].name"),
    ({"rules": [{"name": 3, "action": "answer"}], "default": D}, "rules[0].name: must be a non-empty string",
     "rules[0].name"),
    ({"rules": []}, "default: is required: what to do with a call no rule matches", "default"),
    ({"rules": [], "default": "answer"}, "default: must be an object", "default"),
    ({"rules": [], "default": {"action": "answer", "match": {}}},
     "default.match: the default applies to every call: it takes no match", "default.match"),
    ({"rules": [], "default": {"action": "hold"}}, "default.action: 'hold' is not one of answer, reject, redirect",
     "default.action"),
    (rule(), f"{R}.action: None is not one of answer, reject, redirect", f"{R}.action"),
    (rule(action="reject", then={"transfer": "+18005550199"}),
     f"{R}.then: unknown key (allowed: action, match, name, reason)", f"{R}.then"),
    (rule(action="answer", target="+18005550199"), f"{R}.target: unknown key (allowed: action, match, name, then)",
     f"{R}.target"),
    (rule(action="redirect", target="+18005550199", reason="busy"),
     f"{R}.reason: unknown key (allowed: action, match, name, target)", f"{R}.reason"),
    (rule(action="redirect"), f"{R}.target: is required for redirect", f"{R}.target"),
    (rule(action="reject", reason="later"), f"{R}.reason: 'later' is not one of none, busy, forbidden", f"{R}.reason"),
    (rule(action="answer", match=[]), f"{R}.match: must be an object", f"{R}.match"),
    (rule(action="answer", match={"to": []}), f"{R}.match.to: must be a non-empty list of strings", f"{R}.match.to"),
    (rule(action="answer", match={"to": [5]}), f"{R}.match.to: must be a non-empty list of strings", f"{R}.match.to"),
    (rule(action="answer", match={"to": [""]}), f"{R}.match.to: must be a non-empty list of strings", f"{R}.match.to"),
    (rule(action="answer", match={"to": ["+1800-555"]}),
     f"{R}.match.to[0]: '+1800-555' is not an E.164 number or number pattern like +1900*", f"{R}.match.to[0]"),
    (rule(action="answer", match={"to": ["+18005550100", "+0123"]}),
     f"{R}.match.to[1]: '+0123' is not an E.164 number", f"{R}.match.to[1]"),
    (rule(action="answer", match={"from": ["bob*"]}),
     f"{R}.match.from[0]: 'bob*' is neither an E.164 number nor a raw id (8:acs:..., 8:orgid:...)",
     f"{R}.match.from[0]"),
    (rule(action="answer", match={"headers": {}}), f"{R}.match.headers: must be an object of header names to values",
     f"{R}.match.headers"),
    (rule(action="answer", match={"headers": ["a"]}),
     f"{R}.match.headers: must be an object of header names to values", f"{R}.match.headers"),
    (rule(action="answer", match={"headers": {"X-MS-Custom-A": []}}),
     f"{R}.match.headers.X-MS-Custom-A: must be a non-empty list of strings", f"{R}.match.headers.X-MS-Custom-A"),
    (rule(action="answer", match={"callerKind": ["phoneNumber", "robot"]}),
     f"{R}.match.callerKind[1]: 'robot' is not one of phoneNumber, communicationUser, microsoftTeamsUser",
     f"{R}.match.callerKind[1]"),
    (window(start="09:00", end="17:00"), f"{R}.match.within.timezone: is required", f"{R}.match.within.timezone"),
    (window(timezone="UTC", end="17:00"), f"{R}.match.within.start: is required", f"{R}.match.within.start"),
    (window(timezone="UTC", start="17:00"), f"{R}.match.within.end: is required", f"{R}.match.within.end"),
    (window(timezone="", start="09:00", end="17:00"),
     f"{R}.match.within.timezone: '' is not an IANA timezone such as America/New_York", f"{R}.match.within.timezone"),
    (window(timezone=5, start="09:00", end="17:00"),
     f"{R}.match.within.timezone: 5 is not an IANA timezone such as America/New_York", f"{R}.match.within.timezone"),
    (window("outside", timezone="UTC", start="09:00", end="09:00"), f"{R}.match.outside.end: must differ from start",
     f"{R}.match.outside.end"),
    (window(timezone="UTC", start="24:00", end="09:00"),
     f"{R}.match.within.start: must be a time HH:MM (00:00 to 23:59)", f"{R}.match.within.start"),
    (window(timezone="UTC", start="09:00", end="9:00"), f"{R}.match.within.end: must be a time HH:MM (00:00 to 23:59)",
     f"{R}.match.within.end"),
    (window(timezone="UTC", start=900, end="10:00"), f"{R}.match.within.start: must be a time HH:MM (00:00 to 23:59)",
     f"{R}.match.within.start"),
    (window(timezone="UTC", start="09:00", end="10:00", tz=1),
     f"{R}.match.within.tz: unknown key (allowed: days, end, start, timezone)", f"{R}.match.within.tz"),
    (window(timezone="UTC", days=[], start="09:00", end="10:00"),
     f"{R}.match.within.days: must be a non-empty list of strings", f"{R}.match.within.days"),
    (window(timezone="UTC", days=["mon", "someday"], start="09:00", end="10:00"),
     f"{R}.match.within.days[1]: 'someday' is not one of mon, tue, wed, thu, fri, sat, sun", f"{R}.match.within.days[1]"),
]


@pytest.mark.parametrize("document,message,field", REFUSED, ids=[m for _, m, _ in REFUSED])
def test_each_refusal_says_exactly_what_and_where(document, message, field):
    with pytest.raises(RulesError) as refused:
        parse_rules(document)
    assert str(refused.value) == message
    assert refused.value.field == field


def test_a_bad_target_of_a_redirect_is_refused_naming_its_field():
    with pytest.raises(RulesError) as refused:
        parse_rules(rule(action="redirect", target="nobody"))
    assert refused.value.field == f"{R}.target" and "nobody" in str(refused.value)


def test_load_rules_names_the_source_before_the_rule():
    with pytest.raises(RulesError) as refused:
        load_rules('{"rules": [], "default": {"action": "hold"}}', "rules.json")
    assert str(refused.value) == "rules.json: default.action: 'hold' is not one of answer, reject, redirect"
    assert refused.value.field == "default.action"
    with pytest.raises(RulesError) as refused:
        load_rules("[" * 100_000, "ROUTING_RULES_FILE")
    assert str(refused.value) == "ROUTING_RULES_FILE is not valid JSON: nested too deeply"
    assert refused.value.field == "ROUTING_RULES_FILE"
    with pytest.raises(RulesError) as refused:
        load_rules("{", "X")
    assert str(refused.value).startswith("X is not valid JSON: ") and refused.value.field == "X"


# ---- what loads -----------------------------------------------------------------------------------------------


def test_names_default_to_their_position_and_days_to_every_day_case_insensitively():
    rules = parse_rules({"rules": [{"action": "answer"}, {"action": "reject", "match": {"within": {
        "timezone": "UTC", "days": ["MON", "Tue"], "start": "09:00", "end": "10:00"}}}], "default": D})
    assert [r.name for r in rules.rules] == ["rules[0]", "rules[1]"]
    assert rules.rules[1].match.within.days == frozenset({"mon", "tue"})
    every = parse_rules(window(timezone="UTC", start="09:00", end="10:00")).rules[0].match.within
    assert every.days == frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
    assert (every.start.hour, every.start.minute, every.end.hour, every.end.minute) == (9, 0, 10, 0)


def test_match_keys_load_as_given():
    match = parse_rules(rule(action="answer", match={
        "to": "+18005550100", "from": ["+1425*", "8:acs:*", "4:+1900*", "*"],
        "callerKind": "communicationUser", "headers": {"X-MS-Custom-Tier": "gold", "X-MS-Custom-B": ["1", "2"]}})
    ).rules[0].match
    assert match.to == ("+18005550100",) and match.from_ == ("+1425*", "8:acs:*", "4:+1900*", "*")
    assert match.caller_kinds == frozenset({"communicationUser"})
    assert match.headers == (("X-MS-Custom-Tier", ("gold",)), ("X-MS-Custom-B", ("1", "2")))
    assert match.within is None and match.outside is None


def test_reject_defaults_to_reason_none_and_a_default_can_redirect():
    rules = parse_rules({"rules": [{"name": "r", "action": "reject"}],
                         "default": {"action": "redirect", "target": "8:acs:agent"}})
    assert rules.rules[0].decision.reason == "none"
    assert rules.default.rule == "default" and rules.default.target.raw_id == "8:acs:agent"


def test_a_bad_pattern_after_a_catch_all_is_still_refused():
    with pytest.raises(RulesError) as refused:
        parse_rules(rule(action="answer", match={"from": ["*", "+1800-555"]}))
    assert refused.value.field == f"{R}.match.from[1]"


def test_number_patterns_with_single_character_wildcards_load_without_the_exact_number_check():
    match = parse_rules(rule(action="answer", match={"to": ["+1800555010?", "+1800*"]})).rules[0].match
    assert match.to == ("+1800555010?", "+1800*")
