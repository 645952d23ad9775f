"""Hypothesis strategies for callsteer's edge parsers and routing: arbitrary JSON, near-valid payloads, rulesets."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from shared.domain.events import HANDLED_EVENT_NAMES, IncomingCall
from shared.domain.identifiers import KINDS, Identifier

# Deterministic and bounded (registered in tests/property/conftest.py); each test may lower max_examples.
PROPERTY = settings.get_profile("callsteer-property")

# ---- building blocks ------------------------------------------------------------------------------------------

E164 = st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z", fullmatch=True)
GUID = st.uuids().map(str)
ACS_RAW = GUID.map(lambda g: f"8:acs:{g}_0000000{g[:8]}")
TEAMS_RAW = GUID.map(lambda g: f"8:orgid:{g}")
TEAMS_APP_RAW = GUID.map(lambda g: f"28:orgid:{g}")
VALID_TARGET = st.one_of(E164, ACS_RAW, TEAMS_RAW, TEAMS_APP_RAW)
# Characters that stress parsers and fnmatch: wildcards, set brackets, separators, control and non-ASCII.
TRICKY = st.text(alphabet=st.sampled_from(list("+0123456789:*?[]!-_ \n\t\x00é8acsorgid") + ["\u202e", "\ud7ff"]),
                 max_size=24)
ANY_TEXT = st.one_of(st.text(max_size=40), TRICKY)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), ANY_TEXT)
JSON = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(ANY_TEXT, children, max_size=4)), max_leaves=20)


def with_junk(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with some of `keys` removed or replaced by arbitrary JSON: near-valid inputs reach deep branches."""
    return st.fixed_dictionaries({
        "drop": st.lists(st.sampled_from(keys), max_size=3, unique=True),
        "replace": st.dictionaries(st.sampled_from(keys), JSON, max_size=3),
    }).map(lambda m: {**{k: v for k, v in base.items() if k not in m["drop"]}, **m["replace"]})


def identifier_model() -> st.SearchStrategy[Any]:
    valid = st.one_of(
        E164.map(lambda n: {"kind": "phoneNumber", "rawId": f"4:{n}", "phoneNumber": {"value": n}}),
        ACS_RAW.map(lambda r: {"kind": "communicationUser", "rawId": r, "communicationUser": {"id": r}}),
        TEAMS_RAW.map(lambda r: {"kind": "microsoftTeamsUser", "rawId": r}),
        E164.map(lambda n: {"phoneNumber": {"value": n}}),
    )
    return st.one_of(valid, valid.flatmap(lambda m: with_junk(m, ["kind", "rawId", "phoneNumber",
                                                                   "communicationUser"])), JSON)


TIMES = st.one_of(
    st.just("2026-11-24T14:03:13.3011223Z"), st.just("2026-11-24T14:03:13Z"), st.just("2026-11-24T14:03:13+05:30"),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat()), ANY_TEXT, JSON)

# ---- Event Grid IncomingCall ----------------------------------------------------------------------------------


@st.composite
def incoming_call_data(draw) -> Any:
    base = {
        "to": draw(identifier_model()), "from": draw(identifier_model()),
        "serverCallId": draw(st.one_of(GUID, ANY_TEXT)), "correlationId": draw(GUID),
        "incomingCallContext": draw(st.one_of(st.text(min_size=1, max_size=300), JSON)),
        "callerDisplayName": draw(st.one_of(st.none(), ANY_TEXT)),
        "customContext": draw(st.one_of(st.none(), st.fixed_dictionaries({
            "sipHeaders": st.one_of(st.none(), st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3), JSON),
            "voipHeaders": st.one_of(st.none(), st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3), JSON)}), JSON)),
    }
    return draw(st.one_of(st.just(base), with_junk(base, list(base)), JSON))


# ---- callback CloudEvents -------------------------------------------------------------------------------------

EVENT_TYPES = st.one_of(st.sampled_from([f"Microsoft.Communication.{n}" for n in HANDLED_EVENT_NAMES]),
                        st.sampled_from(["Microsoft.Communication.PlayCompleted", "Microsoft.Communication.",
                                         "Other.Type", ""]), ANY_TEXT, JSON)


@st.composite
def cloud_event(draw) -> Any:
    data = {
        "callConnectionId": draw(st.one_of(GUID, ANY_TEXT, JSON)),
        "serverCallId": draw(st.one_of(st.none(), GUID, JSON)),
        "correlationId": draw(st.one_of(st.none(), GUID, JSON)),
        "operationContext": draw(st.one_of(st.none(), ANY_TEXT, JSON)),
        "resultInformation": draw(st.one_of(st.none(), st.fixed_dictionaries({
            "code": st.one_of(st.integers(), JSON), "subCode": st.one_of(st.integers(), JSON),
            "message": st.one_of(ANY_TEXT, JSON)}), JSON)),
        "participants": draw(st.one_of(st.none(), st.lists(st.one_of(
            st.fixed_dictionaries({"identifier": identifier_model()}), JSON), max_size=3), JSON)),
        "sequenceNumber": draw(st.one_of(st.none(), st.integers(), JSON)),
        "participant": draw(st.one_of(st.none(), identifier_model())),
        "transferTarget": draw(st.one_of(st.none(), identifier_model())),
        "transferee": draw(st.one_of(st.none(), identifier_model())),
        "invitationId": draw(st.one_of(st.none(), GUID, JSON)),
    }
    event = {"id": draw(st.one_of(GUID, ANY_TEXT, JSON)), "type": draw(EVENT_TYPES), "time": draw(TIMES),
             "specversion": "1.0",
             "data": draw(st.one_of(st.just(data), with_junk(data, list(data)), JSON))}
    return draw(st.one_of(st.just(event), with_junk(event, ["id", "type", "time", "data"])))


CALLBACK_BODIES = st.one_of(
    st.lists(cloud_event(), min_size=0, max_size=3).map(lambda events: __import__("json").dumps(events).encode()),
    JSON.map(lambda v: __import__("json").dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)

# ---- routing --------------------------------------------------------------------------------------------------

TIMEZONES = st.sampled_from(["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu",
                             "Pacific/Chatham", "America/Santiago", "Africa/Casablanca"])
CLOCK = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
DAYS = st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "MON", "Sat"]), min_size=1,
                max_size=7)
PHONE_PATTERN = st.one_of(E164, st.from_regex(r"\A\+[0-9]{0,10}[*?][0-9*?]{0,4}\Z", fullmatch=True))
RAW_PATTERN = st.one_of(ACS_RAW, TEAMS_RAW, st.just("8:acs:*"), st.just("*"),
                        st.builds(lambda s: "8:acs:" + s, st.text(alphabet="abc*?[]!-", max_size=8)))
HEADER_PATTERN = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits + "*?[]!-^\\")),
                         min_size=1, max_size=12)


@st.composite
def window(draw) -> dict[str, Any]:
    start = draw(CLOCK)
    end = draw(st.one_of(CLOCK, st.just("24:00")).filter(lambda e: e != start))
    spec = {"timezone": draw(TIMEZONES), "start": start, "end": end}
    if draw(st.booleans()):
        spec["days"] = draw(DAYS)
    return spec


@st.composite
def match(draw) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["to"] = draw(st.lists(st.one_of(PHONE_PATTERN, RAW_PATTERN), min_size=1, max_size=3))
    if draw(st.booleans()):
        spec["from"] = draw(st.lists(st.one_of(PHONE_PATTERN, RAW_PATTERN), min_size=1, max_size=3))
    if draw(st.booleans()):
        spec["callerKind"] = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
    if draw(st.booleans()):
        spec["within"] = draw(window())
    if draw(st.booleans()):
        spec["outside"] = draw(window())
    if draw(st.booleans()):
        spec["headers"] = draw(st.dictionaries(st.sampled_from(["X-MS-Custom-Tier", "x-ms-custom-tier", "Region"]),
                                               st.one_of(HEADER_PATTERN, st.lists(HEADER_PATTERN, min_size=1,
                                                                                  max_size=3)),
                                               min_size=1, max_size=2))
    return spec


@st.composite
def plan(draw) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"transfer": draw(VALID_TARGET)}
    spec: dict[str, Any] = {"ring": draw(st.lists(VALID_TARGET, min_size=1, max_size=4, unique=True))}
    if draw(st.booleans()):
        spec["strategy"] = draw(st.sampled_from(["simultaneous", "sequential"]))
    if draw(st.booleans()):
        spec["timeoutSeconds"] = draw(st.integers(1, 180))
    if draw(st.booleans()):
        spec["callerId"] = draw(E164)
    if draw(st.booleans()):
        spec["fallback"] = draw(st.one_of(st.just({"hangup": True}), VALID_TARGET.map(lambda t: {"transfer": t})))
    return spec


@st.composite
def decision(draw) -> dict[str, Any]:
    action = draw(st.sampled_from(["answer", "reject", "redirect"]))
    spec: dict[str, Any] = {"action": action}
    if action == "answer" and draw(st.booleans()):
        spec["then"] = draw(plan())
    if action == "reject" and draw(st.booleans()):
        spec["reason"] = draw(st.sampled_from(["none", "busy", "forbidden"]))
    if action == "redirect":
        spec["target"] = draw(VALID_TARGET)
    return spec


@st.composite
def valid_ruleset(draw) -> dict[str, Any]:
    rules = []
    for i in range(draw(st.integers(0, 5))):
        rule = draw(decision())
        rule["match"] = draw(match())
        if draw(st.booleans()):
            rule["name"] = f"rule-{i}"
        rules.append(rule)
    return {"rules": rules, "default": draw(decision())}


def _mutate(document: Any, path: list[Any], value: Any) -> Any:
    """Replace the value at `path` (a list of keys/indexes, followed as far as it exists) with `value`."""
    if not path or not isinstance(document, (dict, list)):
        return value
    key, rest = path[0], path[1:]
    if isinstance(document, dict):
        key = key if isinstance(key, str) and key in document else (sorted(document)[0] if document else "x")
        return {**document, key: _mutate(document.get(key), rest, value)}
    if not document:
        return [value]
    index = key % len(document) if isinstance(key, int) else 0
    return document[:index] + [_mutate(document[index], rest, value)] + document[index + 1:]


PATH_STEP = st.one_of(st.sampled_from(["rules", "default", "match", "to", "from", "callerKind", "within", "outside",
                                       "headers", "timezone", "days", "start", "end", "action", "reason", "target",
                                       "then", "ring", "transfer", "fallback", "timeoutSeconds", "callerId",
                                       "strategy", "name", "hangup"]), st.integers(0, 5))
BROKEN_RULESETS = st.one_of(
    st.builds(_mutate, valid_ruleset(), st.lists(PATH_STEP, max_size=5), JSON),
    JSON,
)


def identifiers() -> st.SearchStrategy[Identifier]:
    return st.one_of(
        E164.map(lambda n: Identifier("phoneNumber", f"4:{n}")),
        ACS_RAW.map(lambda r: Identifier("communicationUser", r)),
        TEAMS_RAW.map(lambda r: Identifier("microsoftTeamsUser", r)),
        st.builds(Identifier, st.sampled_from(KINDS), ANY_TEXT),
    )


@st.composite
def incoming_calls(draw) -> IncomingCall:
    headers = st.dictionaries(st.sampled_from(["X-MS-Custom-Tier", "x-ms-custom-TIER", "Region", "other"]),
                              st.one_of(HEADER_PATTERN, ANY_TEXT), max_size=3)
    return IncomingCall(
        event_id=draw(GUID), event_time=datetime(2026, 1, 1, tzinfo=timezone.utc), to=draw(identifiers()),
        from_=draw(identifiers()), server_call_id=draw(GUID), correlation_id=draw(GUID),
        incoming_call_context="ctx", caller_display_name=draw(st.one_of(st.none(), ANY_TEXT)),
        sip_headers=draw(headers), voip_headers=draw(headers))


# Instants a running app can see (now, give or take decades), including DST transitions of the zones above.
INSTANTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31),
                        timezones=st.just(timezone.utc)) | st.sampled_from([
                            datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc) + timedelta(minutes=m)
                            for m in range(-90, 120, 15)])

# ---- control API bodies ---------------------------------------------------------------------------------------

SIP = st.dictionaries(st.one_of(st.builds(lambda s: "X-MS-Custom-" + s, ANY_TEXT), ANY_TEXT),
                      st.one_of(ANY_TEXT, JSON), max_size=6)
VOIP = st.dictionaries(ANY_TEXT, st.one_of(ANY_TEXT, JSON), max_size=3)


def request_body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    valid = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(ANY_TEXT, JSON, max_size=2)
    return st.one_of(valid, st.builds(lambda a, b: {**a, **b}, valid, extra), JSON)


TARGET_LIKE = st.one_of(VALID_TARGET, ANY_TEXT, JSON, st.builds(lambda n: "4:" + n, E164))
BODIES = {
    "create": request_body({"targets": st.one_of(st.lists(TARGET_LIKE, max_size=22), JSON),
                            "callerId": st.one_of(E164, ANY_TEXT, JSON), "displayName": st.one_of(ANY_TEXT, JSON),
                            "operationContext": st.one_of(ANY_TEXT, JSON)}),
    "connect": request_body({"serverCallId": st.one_of(GUID, ANY_TEXT, JSON), "groupCallId": st.one_of(GUID, JSON),
                             "roomId": st.one_of(ANY_TEXT, JSON), "operationContext": ANY_TEXT}),
    "transfer": request_body({"target": TARGET_LIKE, "transferee": TARGET_LIKE, "sipHeaders": st.one_of(SIP, JSON),
                              "voipHeaders": st.one_of(VOIP, JSON), "userToUser": st.one_of(ANY_TEXT, JSON),
                              "operationContext": st.one_of(ANY_TEXT, JSON)}),
    "add": request_body({"target": TARGET_LIKE, "callerId": st.one_of(E164, ANY_TEXT, JSON),
                         "displayName": ANY_TEXT, "invitationTimeoutSeconds": st.one_of(st.integers(-5, 200), JSON),
                         "sipHeaders": st.one_of(SIP, JSON), "voipHeaders": st.one_of(VOIP, JSON),
                         "operationContext": ANY_TEXT}),
    "hangup": request_body({"forEveryone": st.one_of(st.booleans(), JSON)}),
}
