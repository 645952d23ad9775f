"""Call flows in the routing rules: the issue's format loads as written, every refusal names the rule or flow
and the field, and calendars decide on the calendar's own local date."""

import copy
from datetime import datetime, timezone

import pytest

from shared.domain.events import parse_incoming_call
from shared.domain.routing import Answer, parse_rules
from shared.domain.steps import MenuStep, QueueStep, RingStep, VoicemailStep, stored_plan
from shared.errors import RulesError
from tests.payloads import load_event

# The format of issue 13, verbatim.
ISSUE_RULES = {
    "calendars": {
        "us-holidays": {"timezone": "America/New_York", "dates": ["2026-12-25", "2026-12-31..2027-01-01"]}
    },
    "flows": {
        "main-menu": {"menu": {
            "prompt": "https://media.example.com/welcome.wav",
            "options": {
                "1": {"ring": ["8:acs:sales-1", "8:acs:sales-2"], "strategy": "simultaneous", "timeoutSeconds": 20,
                      "fallback": {"flow": "voicemail"}},
                "2": {"transfer": "+18005550199"},
                "3": {"flow": "support-queue"},
                "0": {"flow": "main-menu"}
            },
            "timeoutSeconds": 5, "retries": 2,
            "invalidPrompt": "https://media.example.com/invalid.wav",
            "noInput": {"flow": "voicemail"}
        }},
        "support-queue": {"queue": {
            "music": "https://media.example.com/hold-music.wav",
            "ring": ["8:acs:support-1", "+14255550111"], "strategy": "sequential", "timeoutSeconds": 20,
            "maxWaitSeconds": 300, "overflow": {"flow": "voicemail"}
        }},
        "voicemail": {"voicemail": {"prompt": "https://media.example.com/leave-a-message.wav", "maxSeconds": 120}},
        "closed": {"play": "https://media.example.com/closed.wav", "then": {"hangup": True}}
    },
    "rules": [
        {"name": "holiday", "match": {"to": ["+18005550100"], "calendar": ["us-holidays"]}, "action": "answer",
         "then": {"flow": "closed"}},
        {"name": "main", "match": {"to": ["+18005550100"]}, "action": "answer", "then": {"flow": "main-menu"}}
    ],
    "default": {"action": "reject", "reason": "busy"}
}


def incoming(to="+18005550100"):
    event = load_event("eventgrid_incoming_call_phone")[0]
    event["data"]["to"] = {"kind": "phoneNumber", "rawId": f"4:{to}", "phoneNumber": {"value": to}}
    return parse_incoming_call(event["id"], event["eventTime"], event["data"])


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_the_issues_format_loads_as_written():
    rules = parse_rules(ISSUE_RULES, recordings_configured=True)
    flows = rules.rules[0].decision.flows
    assert isinstance(flows["main-menu"], MenuStep) and isinstance(flows["support-queue"], QueueStep)
    assert isinstance(flows["voicemail"], VoicemailStep) and flows["voicemail"].max_seconds == 120
    menu = flows["main-menu"]
    assert dict(menu.options)["1"].fallback.flow == "voicemail" and isinstance(dict(menu.options)["1"], RingStep)


def test_a_call_stores_its_step_and_only_the_flows_it_can_reach():
    rules = parse_rules(ISSUE_RULES, recordings_configured=True)
    holiday = rules.rules[0].decision
    assert stored_plan(holiday.plan, holiday.flows) == {
        "step": {"flow": "closed"},
        "flows": {"closed": {"play": "https://media.example.com/closed.wav", "then": {"hangup": True}}}}
    main = rules.rules[1].decision
    assert set(stored_plan(main.plan, main.flows)["flows"]) == {"main-menu", "support-queue", "voicemail"}


@pytest.mark.parametrize("when, rule", [
    ("2026-12-25T05:00:00", "holiday"),      # 00:00 on the 25th in New York
    ("2026-12-25T04:59:00", "main"),         # 23:59 on the 24th there, already the 25th in UTC
    ("2026-12-26T04:59:00", "holiday"),      # 23:59 on the 25th there
    ("2026-12-26T05:00:00", "main"),         # the day after
    ("2027-01-01T12:00:00", "holiday"),      # inside the range
    ("2027-01-02T05:00:00", "main"),
])
def test_the_holiday_calendar_holds_on_its_local_dates_only(when, rule):
    rules = parse_rules(ISSUE_RULES, recordings_configured=True)
    assert rules.decide(incoming(), utc(when)).rule == rule


def test_not_calendar_holds_off_the_calendar():
    doc = copy.deepcopy(ISSUE_RULES)
    doc["rules"][1]["match"]["notCalendar"] = ["us-holidays"]
    doc["rules"].pop(0)
    rules = parse_rules(doc, recordings_configured=True)
    assert rules.decide(incoming(), utc("2026-12-25T15:00:00")).rule == "default"
    assert rules.decide(incoming(), utc("2026-12-27T15:00:00")).rule == "main"


def refused(change, recordings=True):
    doc = copy.deepcopy(ISSUE_RULES)
    change(doc)
    with pytest.raises(RulesError) as caught:
        parse_rules(doc, recordings_configured=recordings)
    return str(caught.value)


def menu(doc):
    return doc["flows"]["main-menu"]["menu"]


@pytest.mark.parametrize("change, expected", [
    (lambda d: menu(d)["options"]["1"].update(bogus=1), ["flow 'main-menu'", "options.1.bogus", "unknown key"]),
    (lambda d: menu(d)["options"].update({"5": {"transfer": "+18005550199", "hangup": True}}),
     ["options.5", "exactly one kind", "transfer and hangup"]),
    (lambda d: menu(d)["options"].update({"5": {"speak": "hi"}}), ["options.5.speak", "unknown step"]),
    (lambda d: menu(d).update(prompt="http://media.example.com/x.wav"), ["menu.prompt", "must be https"]),
    (lambda d: menu(d).update(prompt="/x.wav"), ["menu.prompt", "not an absolute URL"]),
    (lambda d: menu(d)["options"].update({"12": {"hangup": True}}), ["options.12", "not a DTMF digit"]),
    (lambda d: menu(d)["options"].update({"A": {"hangup": True}}), ["options.A", "not a DTMF digit"]),
    (lambda d: menu(d)["options"].update({"4": {"flow": "nowhere"}}), ["flow 'main-menu'", "'nowhere'", "not defined"]),
    (lambda d: d["rules"][0]["match"].update(calendar=["xmas"]), ["rule 'holiday'", "match.calendar[0]", "'xmas'"]),
    (lambda d: d["calendars"]["us-holidays"].update(dates=["2026-13-01"]), ["us-holidays", "dates[0]", "not a date"]),
    (lambda d: d["calendars"]["us-holidays"].update(dates=["2026-12-31..2026-12-01"]), ["dates[0]", "ends before"]),
    (lambda d: d["calendars"]["us-holidays"].update(timezone="Mars/Olympus"), ["us-holidays", "timezone"]),
    (lambda d: d["flows"]["voicemail"]["voicemail"].update(maxSeconds=601), ["flow 'voicemail'", "maxSeconds", "1 to 600"]),
    (lambda d: d["flows"]["voicemail"]["voicemail"].update(maxSeconds=0), ["maxSeconds", "1 to 600"]),
    (lambda d: d["flows"].update(loop={"play": "https://m.example.com/a.wav", "then": {"flow": "loop"}}),
     ["flow 'loop'", "loops without a menu", "loop -> loop"]),
    (lambda d: d["flows"].update(a={"ring": ["8:acs:x"], "fallback": {"flow": "b"}},
                                 b={"queue": {"music": "https://m.example.com/m.wav", "ring": ["8:acs:y"],
                                              "overflow": {"flow": "a"}}}), ["loops without a menu"]),
    (lambda d: d["rules"][1].update(then={"flow": "main-menu", "play": "https://m.example.com/a.wav"}),
     ["rule 'main'", "then", "exactly one kind"]),
])
def test_a_bad_flow_is_refused_whole_naming_where(change, expected):
    message = refused(change)
    for part in expected:
        assert part in message, message


def test_a_voicemail_needs_the_recordings_container():
    message = refused(lambda d: None, recordings=False)
    assert "flow 'voicemail'" in message and "RECORDINGS_CONTAINER_URL" in message


def test_a_menu_that_loops_back_to_itself_is_allowed():
    # main-menu's "0" goes back to main-menu: the caller presses a key each time round.
    assert parse_rules(ISSUE_RULES, recordings_configured=True)


def test_loopback_http_media_is_allowed_for_local_runs():
    doc = copy.deepcopy(ISSUE_RULES)
    doc["flows"]["closed"]["play"] = "http://127.0.0.1:8089/media/closed.wav"
    assert parse_rules(doc, recordings_configured=True)


def test_legacy_ring_plans_still_load_with_their_fields():
    rules = parse_rules({"rules": [{"name": "r", "action": "answer", "then": {
        "ring": ["8:acs:a"], "fallback": {"hangup": True}}}], "default": {"action": "reject"}})
    decision = rules.rules[0].decision
    assert isinstance(decision, Answer) and decision.plan.fallback.to_dict() == {"hangup": True}
