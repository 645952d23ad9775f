"""The control API end to end: create, connect, transfer, add/cancel/remove, hang up, and the bad inputs."""

import json
from urllib.parse import quote

import pytest

from tests.e2e.conftest import TEAMS_AGENT

pytestmark = pytest.mark.e2e

USER_A = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000002a1"
USER_B = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000002b2"
CALLER_ID = "+18005550100"


async def api(stack, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    async with stack.http.request(method, f"{stack.url}{path}", data=data,
                                  headers={"Content-Type": "application/json"}) as response:
        text = await response.text()
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        return response.status, payload, response.headers


async def settled(stack, call_id):
    await stack.emulator.idle()
    status, call = await stack.get(f"/api/calls/{call_id}")
    assert status == 200
    return call


def op(call, action, context=None):
    found = [o for o in call["operations"] if o["action"] == action
             and (context is None or o["operationContext"] == context)]
    assert found, f"no {action} operation in {call['operations']}"
    return found[-1]


def acs_requests(stack, operation):
    return [r for r in stack.emulator.requests if r["operation"].split("_")[-1] == operation]


async def created(stack, targets, **extra):
    status, body, _ = await api(stack, "POST", "/api/calls", {"targets": targets, **extra})
    assert status == 201, body
    return await settled(stack, body["callConnectionId"]), body


async def test_a_one_to_one_call_to_a_phone_number_connects(stack):
    call, body = await created(stack, ["+14255550171"], callerId=CALLER_ID, operationContext="outbound-1")
    assert body["operationContext"] == "outbound-1"
    assert call["direction"] == "outbound" and call["state"] == "connected"
    assert call["from"] == CALLER_ID and call["to"] == "+14255550171"
    assert op(call, "createCall")["status"] == "succeeded"
    assert [e["type"] for e in call["events"]][:2] == ["CallConnected", "ParticipantsUpdated"]
    [request] = [r for r in acs_requests(stack, "CreateCall") if r["body"].get("operationContext") == "outbound-1"]
    assert request["body"]["sourceCallerIdNumber"]["value"] == CALLER_ID
    assert request["body"]["callbackUri"].startswith(f"{stack.url}/api/callbacks/")


async def test_a_one_to_one_call_to_a_user_needs_no_caller_id(stack):
    call, _ = await created(stack, [USER_A])
    assert call["state"] == "connected" and USER_A in call["participants"]


async def test_several_targets_make_a_group_call(stack):
    call, _ = await created(stack, [USER_A, USER_B, "+14255550172"], callerId=CALLER_ID)
    assert call["state"] == "connected"
    assert {USER_A, USER_B, "4:+14255550172"} <= set(call["participants"])


async def test_a_declined_outbound_call_fails_with_the_result(stack):
    stack.emulator.script_target("+14255550173", "decline")
    call, _ = await created(stack, ["+14255550173"], callerId=CALLER_ID)
    assert call["state"] == "failed"
    failed = op(call, "createCall")
    assert failed["status"] == "failed" and failed["result"]["code"] == 603


async def test_a_phone_target_without_caller_id_is_refused_before_anything_is_sent(stack):
    before = len(stack.emulator.requests)
    status, problem, headers = await api(stack, "POST", "/api/calls", {"targets": ["+14255550174"]})
    assert status == 400 and problem["field"] == "callerId"
    assert headers["Content-Type"].startswith("application/problem+json")
    assert len(stack.emulator.requests) == before


async def test_the_default_caller_id_setting_is_used_for_phone_targets(stack, settings_changed):
    settings_changed(ACS_CALLER_ID=CALLER_ID)
    call, _ = await created(stack, ["+14255550175"])
    assert call["state"] == "connected" and call["from"] == CALLER_ID


@pytest.mark.parametrize("locator", ["serverCallId", "groupCallId", "roomId"])
async def test_connect_joins_a_call_by_each_locator(stack, locator):
    if locator == "serverCallId":
        existing, _ = await created(stack, [USER_A])
        value = existing["serverCallId"]
    else:
        value = f"{locator}-0f5b2c1e-7d3a-4e8b-9c6f-1a2b3c4d5e6f"
        stack.emulator.add_call_locator(value, [USER_B])
    status, body, _ = await api(stack, "POST", "/api/calls:connect", {locator: value, "operationContext": "join"})
    assert status == 201, body
    call = await settled(stack, body["callConnectionId"])
    assert call["state"] == "connected" and op(call, "connect")["status"] == "succeeded"


async def test_connect_to_an_unknown_room_fails_with_connect_failed(stack):
    status, body, _ = await api(stack, "POST", "/api/calls:connect", {"roomId": "no-such-room-99"})
    if status == 201:
        call = await settled(stack, body["callConnectionId"])
        assert call["state"] == "failed" and op(call, "connect")["status"] == "failed"
    else:
        assert status in (400, 404) and "acsStatus" in body


@pytest.mark.parametrize("body", [{}, {"serverCallId": "a", "roomId": "b"}, {"groupCallId": 5}])
async def test_connect_needs_exactly_one_locator(stack, body):
    status, problem, _ = await api(stack, "POST", "/api/calls:connect", body)
    assert status == 400 and ("exactly one" in problem["detail"] or problem["field"] == "groupCallId")


async def test_a_one_to_one_transfer_hands_the_call_on_with_custom_headers(stack):
    call, _ = await created(stack, ["+14255550176"], callerId=CALLER_ID)
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/transfer", {
        "target": "+18005550199", "operationContext": "xfer-1", "userToUser": "616263;encoding=hex",
        "sipHeaders": {"X-MS-Custom-Ticket": "T-1234"}, "voipHeaders": {"tier": "gold"}})
    assert status == 202 and body == {"operationContext": "xfer-1"}
    after = await settled(stack, call["id"])
    assert after["state"] == "transferred"
    assert op(after, "transfer", "xfer-1")["status"] == "succeeded"
    assert [e["type"] for e in after["events"]][-2:] == ["CallTransferAccepted", "CallDisconnected"]
    [request] = [r for r in acs_requests(stack, "TransferToParticipant") if r["body"]["operationContext"] == "xfer-1"]
    context = request["body"]["customCallingContext"]
    assert context["sipHeaders"]["X-MS-Custom-Ticket"] == "T-1234"
    assert context["sipHeaders"]["User-To-User"] == "616263;encoding=hex"
    assert context["voipHeaders"] == {"tier": "gold"}
    assert "operationCallbackUri" not in request["body"]


async def test_a_group_transfer_moves_one_participant_and_keeps_the_call(stack):
    call, _ = await created(stack, [USER_A, USER_B], callerId=CALLER_ID)
    status, _, _ = await api(stack, "POST", f"/api/calls/{call['id']}/transfer",
                             {"target": TEAMS_AGENT, "transferee": USER_A, "operationContext": "xfer-group"})
    assert status == 202
    after = await settled(stack, call["id"])
    assert op(after, "transfer", "xfer-group")["status"] == "succeeded"
    assert after["state"] == "connected"
    [request] = [r for r in acs_requests(stack, "TransferToParticipant")
                 if r["body"]["operationContext"] == "xfer-group"]
    assert request["body"]["transferee"]["rawId"] == USER_A


@pytest.mark.parametrize("headers,field", [
    ({"sipHeaders": {f"X-MS-Custom-H{i}": "v" for i in range(6)}}, "sipHeaders"),
    ({"sipHeaders": {"X-Ticket": "1"}}, "sipHeaders.X-Ticket"),
    ({"sipHeaders": {"X-MS-Custom-" + "a" * 60: "1"}}, "sipHeaders.X-MS-Custom-" + "a" * 60),
    ({"sipHeaders": {"X-MS-Custom-Long": "v" * 257}}, "sipHeaders.X-MS-Custom-Long"),
    ({"sipHeaders": {"X-MS-Custom-Space": "a b"}}, "sipHeaders.X-MS-Custom-Space"),
    ({"voipHeaders": {"note": "v" * 1025}}, "voipHeaders.note"),
    ({"voipHeaders": {"n" * 65: "v"}}, "voipHeaders." + "n" * 65),
    ({"userToUser": "x" * 257}, "userToUser"),
    ({"target": "not-a-number"}, "target"),
    ({"target": None}, "target"),
    ({"colour": "red"}, "colour"),
])
async def test_transfer_refuses_what_the_service_would_refuse_naming_the_field(stack, headers, field):
    call, _ = await created(stack, [USER_A])
    before = len(stack.emulator.requests)
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/transfer",
                                   {"target": "+18005550199", **headers})
    assert status == 400 and problem["field"] == field
    assert len(stack.emulator.requests) == before


async def test_add_with_timeout_then_cancel_closes_both_operations(stack):
    call, _ = await created(stack, [USER_A])
    invitee = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000003c1"
    stack.emulator.script_target(invitee, "no-answer")
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {
        "target": invitee, "invitationTimeoutSeconds": 60, "operationContext": "invite-1",
        "voipHeaders": {"reason": "escalation"}})
    assert status == 202 and body["operationContext"] == "invite-1" and body["invitationId"]
    [request] = [r for r in acs_requests(stack, "AddParticipant") if r["body"]["operationContext"] == "invite-1"]
    assert request["body"]["invitationTimeoutInSeconds"] == 60
    status, cancel, _ = await api(stack, "DELETE", f"/api/calls/{call['id']}/invitations/{body['invitationId']}")
    assert status == 202
    after = await settled(stack, call["id"])
    assert op(after, "cancelAddParticipant", cancel["operationContext"])["status"] == "succeeded"
    assert op(after, "addParticipant", "invite-1")["status"] == "cancelled"
    assert invitee not in after["participants"]


async def test_add_then_remove_updates_participants(stack):
    call, _ = await created(stack, [USER_A])
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {"target": USER_B})
    assert status == 202
    joined = await settled(stack, call["id"])
    assert op(joined, "addParticipant", body["operationContext"])["status"] == "succeeded"
    assert USER_B in joined["participants"]
    status, removal, _ = await api(stack, "DELETE", f"/api/calls/{call['id']}/participants/{quote(USER_B, safe='')}")
    assert status == 202
    left = await settled(stack, call["id"])
    assert op(left, "removeParticipant", removal["operationContext"])["status"] == "succeeded"
    assert USER_B not in left["participants"]


async def test_a_phone_number_participant_is_removed_by_its_encoded_raw_id(stack):
    call, _ = await created(stack, [USER_A, "+14255550177"], callerId=CALLER_ID)
    status, removal, _ = await api(stack, "DELETE",
                                   f"/api/calls/{call['id']}/participants/{quote('4:+14255550177', safe='')}")
    assert status == 202, removal
    left = await settled(stack, call["id"])
    assert "4:+14255550177" not in left["participants"]


@pytest.mark.parametrize("for_everyone", [True, False])
async def test_hang_up_ends_the_call_either_way(stack, for_everyone):
    call, _ = await created(stack, [USER_A, USER_B])
    status, body, _ = await api(stack, "POST", f"/api/calls/{call['id']}/hangup", {"forEveryone": for_everyone})
    assert status == 202 and body["forEveryone"] is for_everyone
    after = await settled(stack, call["id"])
    assert after["state"] == "disconnected" and op(after, "hangUp")["status"] == "succeeded"
    expected = "TerminateCall" if for_everyone else "HangupCall"
    assert any(r["operation"].split("_")[-1] == expected and call["id"] in r["path"] for r in stack.emulator.requests)


async def test_actions_on_an_ended_call_get_409_with_its_state(stack):
    call, _ = await created(stack, [USER_A])
    await api(stack, "POST", f"/api/calls/{call['id']}/hangup", {"forEveryone": True})
    await settled(stack, call["id"])
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants", {"target": USER_B})
    assert status == 409 and problem["state"] == "disconnected"


async def test_actions_on_an_unknown_call_get_404(stack):
    status, problem, _ = await api(stack, "POST", "/api/calls/no-such-call/hangup", {"forEveryone": True})
    assert status == 404 and "no-such-call" in problem["detail"]


@pytest.mark.parametrize("path,body,field", [
    ("participants", {"target": USER_B, "invitationTimeoutSeconds": 0}, "invitationTimeoutSeconds"),
    ("participants", {"target": USER_B, "invitationTimeoutSeconds": 181}, "invitationTimeoutSeconds"),
    ("participants", {"target": "+14255550178"}, "callerId"),
    ("participants", {}, "target"),
    ("hangup", {}, "forEveryone"),
    ("hangup", {"forEveryone": "yes"}, "forEveryone"),
])
async def test_bad_action_bodies_get_400_naming_the_field(stack, path, body, field):
    call, _ = await created(stack, [USER_A])
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/{path}", body)
    assert status == 400 and problem["field"] == field


async def test_a_body_that_is_not_json_gets_400(stack):
    async with stack.http.post(f"{stack.url}/api/calls", data=b"{targets:",
                               headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json(content_type=None))["detail"]


async def test_an_acs_refusal_comes_back_with_its_status_and_code_and_is_recorded_as_failed(stack):
    call, _ = await created(stack, [USER_A])
    stack.emulator.inject_fault("AddParticipant", status=403, code="Forbidden", sub_code=7501)
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants",
                                   {"target": USER_B, "operationContext": "refused"})
    assert status == 403 and problem["acsStatus"] == 403 and problem["acsCode"] == "Forbidden"
    after = await settled(stack, call["id"])
    refused = op(after, "addParticipant", "refused")
    assert refused["status"] == "failed" and refused["result"]["code"] == 403


async def test_an_acs_outage_after_retries_is_a_502_and_nothing_is_shown_as_done(stack):
    call, _ = await created(stack, [USER_A])
    stack.emulator.inject_fault("AddParticipant", status=503, count=10, retry_after=0.01)
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants",
                                   {"target": USER_B, "operationContext": "outage"})
    stack.emulator.clear_faults()
    assert status == 502 and problem["acsStatus"] == 503
    after = await settled(stack, call["id"])
    assert op(after, "addParticipant", "outage")["status"] == "failed"
    assert USER_B not in after["participants"]


async def test_a_reused_operation_context_is_refused(stack):
    call, _ = await created(stack, [USER_A], operationContext="dup-ctx")
    status, problem, _ = await api(stack, "POST", f"/api/calls/{call['id']}/participants",
                                   {"target": USER_B, "operationContext": "dup-ctx"})
    assert status == 400 and problem["field"] == "operationContext"
