"""Every way a ruleset is refused, with the exact message and field the operator sees, and every plan shape
that loads, as the engine will read it. (The README promises errors that name the rule and the field; the
message text is what the operator reads in the log, so it is asserted whole.)"""

import pytest

from shared.domain.routing import Fallback, Plan, load_rules, parse_rules
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
    ({"rules": [], "default": D, "x": 1}, "rules document.x: unknown key (allowed: default, rules)", "rules document.x"),
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
    (answer_then({"transfer": "+18005550199", "ring": RING1}), f"{R}.then: needs exactly one of transfer or ring",
     f"{R}.then"),
    (answer_then({}), f"{R}.then: needs exactly one of transfer or ring", f"{R}.then"),
    (answer_then({"transfer": "+18005550199", "strategy": "sequential", "timeoutSeconds": 5}),
     f"{R}.then.strategy: only goes with ring", f"{R}.then.strategy"),
    (answer_then({"transfer": "+18005550199", "timeoutSeconds": 5}), f"{R}.then.timeoutSeconds: only goes with ring",
     f"{R}.then.timeoutSeconds"),
    (answer_then({"ring": []}), f"{R}.then.ring: must be a non-empty list of targets", f"{R}.then.ring"),
    (answer_then({"ring": "+18005550199"}), f"{R}.then.ring: must be a non-empty list of targets", f"{R}.then.ring"),
    (answer_then({"ring": RING1 * 2}), f"{R}.then.ring: lists a target twice", f"{R}.then.ring"),
    (answer_then({"ring": RING1, "strategy": "random"}),
     f"{R}.then.strategy: 'random' is not one of simultaneous, sequential", f"{R}.then.strategy"),
    (answer_then({"ring": RING1, "timeoutSeconds": True}),
     f"{R}.then.timeoutSeconds: must be a whole number from 1 to 180", f"{R}.then.timeoutSeconds"),
    (answer_then({"ring": RING1, "timeoutSeconds": 0}),
     f"{R}.then.timeoutSeconds: must be a whole number from 1 to 180", f"{R}.then.timeoutSeconds"),
    (answer_then({"ring": RING1, "timeoutSeconds": 181}),
     f"{R}.then.timeoutSeconds: must be a whole number from 1 to 180", f"{R}.then.timeoutSeconds"),
    (answer_then({"ring": RING1, "timeoutSeconds": 20.5}),
     f"{R}.then.timeoutSeconds: must be a whole number from 1 to 180", f"{R}.then.timeoutSeconds"),
    (answer_then({"ring": RING1, "fallback": {"transfer": "+18005550198", "hangup": True}}),
     f"{R}.then.fallback: needs exactly one of transfer or hangup", f"{R}.then.fallback"),
    (answer_then({"ring": RING1, "fallback": {}}), f"{R}.then.fallback: needs exactly one of transfer or hangup",
     f"{R}.then.fallback"),
    (answer_then({"ring": RING1, "fallback": {"hangup": False}}), f"{R}.then.fallback.hangup: must be true",
     f"{R}.then.fallback.hangup"),
    (answer_then({"ring": RING1, "fallback": {"voicemail": True}}),
     f"{R}.then.fallback.voicemail: unknown key (allowed: hangup, transfer)", f"{R}.then.fallback.voicemail"),
    (answer_then({"ring": RING1, "colour": 1}),
     f"{R}.then.colour: unknown key (allowed: callerId, fallback, ring, strategy, timeoutSeconds, transfer)",
     f"{R}.then.colour"),
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


@pytest.mark.parametrize("then,field,value", [
    ({"ring": ["+18005550199", "bob"]}, f"{R}.then.ring[1]", "bob"),
    ({"transfer": "nobody"}, f"{R}.then.transfer", "nobody"),
    ({"ring": RING1, "fallback": {"transfer": "nobody"}}, f"{R}.then.fallback.transfer", "nobody"),
    ({"ring": RING1, "callerId": "8:acs:x"}, f"{R}.then.callerId", "callerId"),
])
def test_a_bad_target_in_a_plan_is_refused_naming_its_field(then, field, value):
    with pytest.raises(RulesError) as refused:
        parse_rules(answer_then(then))
    assert refused.value.field == field and field in str(refused.value) and value in str(refused.value)


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


def plan_of(then):
    return parse_rules(answer_then(then)).rules[0].decision.plan


def test_a_transfer_plan_loads_with_nothing_else():
    plan = plan_of({"transfer": "+18005550199"})
    assert plan.transfer.raw_id == "4:+18005550199" and plan.ring == () and plan.fallback is None
    assert plan.to_dict() == {"transfer": "+18005550199"}


def test_a_ring_plan_loads_with_its_defaults():
    plan = plan_of({"ring": ["8:acs:a", "+18005550199"]})
    assert [t.raw_id for t in plan.ring] == ["8:acs:a", "4:+18005550199"]
    assert (plan.strategy, plan.timeout_seconds, plan.caller_id, plan.fallback) == ("simultaneous", None, None, None)
    assert plan.to_dict() == {"ring": ["8:acs:a", "+18005550199"], "strategy": "simultaneous"}


@pytest.mark.parametrize("timeout", [1, 180])
def test_a_ring_plan_with_every_key_loads_and_records_them_all(timeout):
    then = {"ring": ["8:acs:a"], "strategy": "sequential", "timeoutSeconds": timeout, "callerId": "+18005550100",
            "fallback": {"hangup": True}}
    plan = plan_of(then)
    assert plan == Plan(ring=plan.ring, strategy="sequential", timeout_seconds=timeout, caller_id="+18005550100",
                        fallback=Fallback(hangup=True))
    assert plan.to_dict() == then


def test_a_fallback_transfer_is_recorded_as_its_display_form():
    plan = plan_of({"ring": ["8:acs:a"], "fallback": {"transfer": "+18005550198"}})
    assert plan.fallback == Fallback(transfer=plan.fallback.transfer) and plan.fallback.hangup is False
    assert plan.to_dict()["fallback"] == {"transfer": "+18005550198"}


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
