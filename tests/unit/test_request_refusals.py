"""The control API's request parsers: each refusal with its exact message and field (the problem document's
`detail` and `field`), each limit at its edge, and what an accepted body becomes."""

import pytest

from shared.domain import requests as rq
from shared.errors import ValidationError

C = "+18005550100"
T = "+14255550123"
PARSERS = {
    "create": lambda b: rq.parse_create_call(b, C), "create without default": lambda b: rq.parse_create_call(b, None),
    "connect": rq.parse_connect, "transfer": rq.parse_transfer, "add": lambda b: rq.parse_add_participant(b, C),
    "add without default": lambda b: rq.parse_add_participant(b, None), "hang up": rq.parse_hang_up,
}
SIP_VALUE = "SIP header values have at most 256 characters of letters, digits and = ; . ! % * _ + ~ -"
SIP_NAME = "SIP header names have at most 64 characters of letters, digits and . ! % * _ + ~ -"
LONG_SIP = "X-MS-Custom-" + "a" * 53
LONG_VOIP = "a" * 65


def tr(**extra):
    return {"target": T, **extra}


REFUSED = [
    ("create", {}, "targets must be a non-empty list of phone numbers or raw ids", "targets"),
    ("create", {"targets": []}, "targets must be a non-empty list of phone numbers or raw ids", "targets"),
    ("create", {"targets": T}, "targets must be a non-empty list of phone numbers or raw ids", "targets"),
    ("create", {"targets": [f"+142555501{i:02d}" for i in range(21)]}, "targets has more than 20 entries", "targets"),
    ("create", {"targets": [T, T]}, "targets lists a participant twice", "targets"),
    ("create without default", {"targets": [T]}, "callerId is required to call a phone number (or set ACS_CALLER_ID)",
     "callerId"),
    ("create", {"targets": [T], "displayName": ""}, "displayName must be a non-empty string", "displayName"),
    ("create", {"targets": [T], "displayName": 5}, "displayName must be a non-empty string", "displayName"),
    ("create", {"targets": [T], "displayName": "x" * 257}, "displayName is longer than 256 characters", "displayName"),
    ("create", {"targets": [T], "operationContext": "x" * 257}, "operationContext is longer than 256 characters",
     "operationContext"),
    ("create", {"targets": [T], "operationContext": "  "}, "operationContext must be a non-empty string",
     "operationContext"),
    ("connect", {}, "exactly one of serverCallId, groupCallId or roomId is required", "serverCallId"),
    ("connect", {"serverCallId": "a", "roomId": "b"}, "exactly one of serverCallId, groupCallId or roomId is required",
     "roomId"),
    ("connect", {"serverCallId": "a", "groupCallId": "b", "roomId": "c"},
     "exactly one of serverCallId, groupCallId or roomId is required", "groupCallId"),
    ("connect", {"roomId": ""}, "roomId must be a non-empty string", "roomId"),
    ("connect", {"roomId": "x" * 129}, "roomId is longer than 128 characters (the limit of a group call or room id)",
     "roomId"),
    ("connect", {"groupCallId": 5}, "groupCallId must be a non-empty string", "groupCallId"),
    ("transfer", {}, "target is required", "target"),
    ("transfer", {"target": None}, "target is required", "target"),
    ("transfer", tr(userToUser="a b"), f"userToUser: {SIP_VALUE}", "userToUser"),
    ("transfer", tr(userToUser=5), "userToUser must be a string", "userToUser"),
    ("transfer", tr(userToUser="a" * 257), f"userToUser: {SIP_VALUE}", "userToUser"),
    ("transfer", tr(sipHeaders=[]), "sipHeaders must be an object of header names to string values", "sipHeaders"),
    ("transfer", tr(sipHeaders={f"X-MS-Custom-{i}": "v" for i in range(6)}),
     "sipHeaders has 6 headers; at most 5 custom SIP headers are allowed", "sipHeaders"),
    ("transfer", tr(sipHeaders={"X-Other": "v"}),
     "sipHeaders.X-Other: custom SIP header names must start with X-MS-Custom-", "sipHeaders.X-Other"),
    ("transfer", tr(sipHeaders={"X-MS-Custom-": "v"}),
     "sipHeaders.X-MS-Custom-: custom SIP header names must start with X-MS-Custom-", "sipHeaders.X-MS-Custom-"),
    ("transfer", tr(sipHeaders={LONG_SIP: "v"}), f"sipHeaders.{LONG_SIP}: {SIP_NAME}", f"sipHeaders.{LONG_SIP}"),
    ("transfer", tr(sipHeaders={"X-MS-Custom-a b": "v"}), f"sipHeaders.X-MS-Custom-a b: {SIP_NAME}",
     "sipHeaders.X-MS-Custom-a b"),
    ("transfer", tr(sipHeaders={"X-MS-Custom-A": 5}), "sipHeaders.X-MS-Custom-A must be a string",
     "sipHeaders.X-MS-Custom-A"),
    ("transfer", tr(sipHeaders={"X-MS-Custom-A": "a b"}), f"sipHeaders.X-MS-Custom-A: {SIP_VALUE}",
     "sipHeaders.X-MS-Custom-A"),
    ("transfer", tr(sipHeaders={"X-MS-Custom-A": "v" * 257}), f"sipHeaders.X-MS-Custom-A: {SIP_VALUE}",
     "sipHeaders.X-MS-Custom-A"),
    ("transfer", tr(voipHeaders="x"), "voipHeaders must be an object of header names to string values",
     "voipHeaders"),
    ("transfer", tr(voipHeaders={str(i): "v" for i in range(1001)}), "voipHeaders has more than 1000 headers",
     "voipHeaders"),
    ("transfer", tr(voipHeaders={"": "v"}), "voipHeaders.: VoIP header names have 1 to 64 characters", "voipHeaders."),
    ("transfer", tr(voipHeaders={LONG_VOIP: "v"}), f"voipHeaders.{LONG_VOIP}: VoIP header names have 1 to 64 characters",
     f"voipHeaders.{LONG_VOIP}"),
    ("transfer", tr(voipHeaders={"a": 5}), "voipHeaders.a: VoIP header values are strings of at most 1024 characters",
     "voipHeaders.a"),
    ("transfer", tr(voipHeaders={"a": "v" * 1025}),
     "voipHeaders.a: VoIP header values are strings of at most 1024 characters", "voipHeaders.a"),
    ("add", {}, "target is required", "target"),
    ("add", tr(invitationTimeoutSeconds=0), "invitationTimeoutSeconds must be a whole number from 1 to 180",
     "invitationTimeoutSeconds"),
    ("add", tr(invitationTimeoutSeconds=181), "invitationTimeoutSeconds must be a whole number from 1 to 180",
     "invitationTimeoutSeconds"),
    ("add", tr(invitationTimeoutSeconds=True), "invitationTimeoutSeconds must be a whole number from 1 to 180",
     "invitationTimeoutSeconds"),
    ("add", tr(invitationTimeoutSeconds="5"), "invitationTimeoutSeconds must be a whole number from 1 to 180",
     "invitationTimeoutSeconds"),
    ("add", tr(sipHeaders={"X-Other": "v"}),
     "sipHeaders.X-Other: custom SIP header names must start with X-MS-Custom-", "sipHeaders.X-Other"),
    ("add", tr(voipHeaders={"a": 5}), "voipHeaders.a: VoIP header values are strings of at most 1024 characters",
     "voipHeaders.a"),
    ("add", tr(displayName="x" * 257), "displayName is longer than 256 characters", "displayName"),
    ("add", tr(operationContext=""), "operationContext must be a non-empty string", "operationContext"),
    ("hang up", {}, "forEveryone is required: true ends the call for everyone, false removes only the app",
     "forEveryone"),
    ("hang up", {"forEveryone": "true"},
     "forEveryone is required: true ends the call for everyone, false removes only the app", "forEveryone"),
    ("hang up", {"forEveryone": 1},
     "forEveryone is required: true ends the call for everyone, false removes only the app", "forEveryone"),
    ("hang up", {"forEveryone": True, "x": 1}, "x is not a field of this request (allowed: forEveryone)", "x"),
    ("connect", {"roomId": "r", "callbackUri": "u"},
     "callbackUri is not a field of this request (allowed: groupCallId, operationContext, roomId, serverCallId)",
     "callbackUri"),
]


@pytest.mark.parametrize("parser,body,message,field", REFUSED, ids=[f"{p}: {m}"[:90] for p, _, m, _ in REFUSED])
def test_each_refusal_says_exactly_what_and_where(parser, body, message, field):
    with pytest.raises(ValidationError) as refused:
        PARSERS[parser](body)
    assert str(refused.value) == message
    assert refused.value.field == field


def test_a_bad_caller_id_is_refused_naming_it():
    with pytest.raises(ValidationError) as refused:
        rq.parse_add_participant(tr(callerId="123"), C)
    assert refused.value.field == "callerId"


@pytest.mark.parametrize("body,expected", [(b"", {}), (b"  \n", {}), (b'{"a": 1}', {"a": 1})])
def test_an_empty_body_is_an_empty_object(body, expected):
    assert rq.parse_json_object(body) == expected


@pytest.mark.parametrize("body", [b"[]", b"5", b'"x"', b"null"])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(ValidationError) as refused:
        rq.parse_json_object(body)
    assert str(refused.value) == "body must be a JSON object" and refused.value.field == "body"


# ---- what an accepted body becomes ----------------------------------------------------------------------------


def test_create_call_takes_every_field_and_falls_back_to_the_default_caller_id():
    made = rq.parse_create_call({"targets": [T, "8:acs:a"], "displayName": "Desk", "operationContext": "c1"}, C)
    assert [t.raw_id for t in made.targets] == ["4:" + T, "8:acs:a"]
    assert (made.caller_id, made.display_name, made.operation_context) == (C, "Desk", "c1")
    assert rq.parse_create_call({"targets": [T], "callerId": "+18005550101"}, C).caller_id == "+18005550101"
    assert rq.parse_create_call({"targets": ["8:acs:a"]}, None).caller_id is None  # no phone: none needed
    assert len(rq.parse_create_call({"targets": [f"+142555501{i:02d}" for i in range(20)]}, C).targets) == 20


@pytest.mark.parametrize("name,kind,longest", [("serverCallId", "serverCall", 1024), ("groupCallId", "groupCall", 128),
                                               ("roomId", "room", 128)])
def test_connect_reads_each_locator_up_to_its_longest(name, kind, longest):
    connect = rq.parse_connect({name: "x" * longest, "operationContext": "c"})
    assert (connect.locator_kind, connect.locator_id, connect.operation_context) == (kind, "x" * longest, "c")


def test_a_null_locator_counts_as_absent():
    assert rq.parse_connect({"roomId": "r", "groupCallId": None}).locator_kind == "room"


def test_transfer_keeps_headers_and_puts_user_to_user_among_the_sip_headers():
    sip = {f"X-MS-Custom-{i}": "v" * 256 for i in range(5)}
    request = rq.parse_transfer(tr(transferee="8:acs:b", sipHeaders=sip, voipHeaders={"a" * 64: "v" * 1024},
                                   userToUser="616263;encoding=hex", operationContext="t"))
    assert request.target.raw_id == "4:" + T and request.transferee.raw_id == "8:acs:b"
    assert request.custom.sip == sip and request.custom.voip == {"a" * 64: "v" * 1024}
    assert request.custom.sip_with_uui(request.user_to_user) == {**sip, "User-To-User": "616263;encoding=hex"}
    assert request.operation_context == "t"
    bare = rq.parse_transfer(tr())
    assert bare.transferee is None and bare.custom.sip_with_uui(None) is None and bare.custom.voip == {}


def test_add_participant_takes_every_field_and_the_limits_inclusive():
    request = rq.parse_add_participant(tr(callerId="+18005550101", displayName="x" * 256, invitationTimeoutSeconds=180,
                                          sipHeaders={"x-ms-custom-a": "1"}, voipHeaders={"k": "v"},
                                          operationContext="x" * 256), C)
    assert (request.caller_id, request.invitation_timeout) == ("+18005550101", 180)
    assert request.display_name == "x" * 256 and request.operation_context == "x" * 256
    assert request.custom.sip == {"x-ms-custom-a": "1"} and request.custom.voip == {"k": "v"}
    assert rq.parse_add_participant(tr(invitationTimeoutSeconds=1), C).invitation_timeout == 1
    default = rq.parse_add_participant(tr(), C)
    assert (default.caller_id, default.invitation_timeout, default.display_name) == (C, None, None)
    assert rq.parse_add_participant({"target": "8:acs:a"}, None).caller_id is None


@pytest.mark.parametrize("value", [True, False])
def test_hang_up_reads_for_everyone(value):
    assert rq.parse_hang_up({"forEveryone": value}) is value
