"""The real SDK's requests for every operation the app uses are accepted and produce the right callbacks."""

from __future__ import annotations

import json

import pytest
from azure.communication.callautomation import CommunicationUserIdentifier, PhoneNumberIdentifier
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

CALLER = "+14255550123"
APP_NUMBER = "+18005550100"
AGENT = "+14255550199"
SUPERVISOR = "+14255550188"
ACS_USER = "8:acs:11111111-2222-3333-4444-555555555555_00000000-0000-0000-0000-000000000001"


@pytest.mark.asyncio
async def test_answering_an_incoming_call_sends_call_connected_then_participants_updated(emu, client, receiver):
    event = emu.incoming_call(from_=CALLER, to=APP_NUMBER)

    result = await client.answer_call(event["data"]["incomingCallContext"], receiver.callback_url(),
                                      operation_context="answer-1")
    await emu.idle()

    call_id = result.call_connection_id
    assert result.server_call_id == event["data"]["serverCallId"]
    assert result.call_connection_state == "connecting"
    assert receiver.types() == ["CallConnected", "ParticipantsUpdated"]
    connected = receiver.event("CallConnected")
    assert connected["source"] == connected["subject"] == f"calling/callConnections/{call_id}"
    assert connected["specversion"] == "1.0" and connected["datacontenttype"] == "application/json"
    assert connected["data"]["callConnectionId"] == call_id
    assert connected["data"]["serverCallId"] == event["data"]["serverCallId"]
    assert connected["data"]["correlationId"] == event["data"]["correlationId"]
    # As recorded (play_invalid_file_source.json, api 2026-03-12): no operationContext, 200/0 with an empty message.
    assert "operationContext" not in connected["data"]
    assert connected["data"]["resultInformation"] == {"code": 200, "subCode": 0, "message": ""}
    assert connected["data"]["publicEventType"] == "Microsoft.Communication.CallConnected"
    assert connected["data"]["version"] == "2026-03-12"
    updated = receiver.event("ParticipantsUpdated")
    assert updated["data"]["sequenceNumber"] == 1
    assert [p["identifier"]["rawId"] for p in updated["data"]["participants"]] == ["4:" + CALLER]
    assert updated["data"]["participants"][0]["identifier"]["phoneNumber"] == {"value": CALLER}
    assert all(isinstance(r.body, list) and len(r.body) == 1 for r in receiver.received)
    assert len({e["id"] for e in receiver.events()}) == 2


@pytest.mark.asyncio
async def test_every_callback_carries_a_jwt_that_verifies_against_the_served_key_set(answered, receiver,
                                                                                     verify_token, emu):
    await answered()

    for received in receiver.received:
        scheme, _, token = received.headers["Authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = await verify_token(token)
        assert claims["aud"] == emu.resource_id
        assert claims["iss"] == "https://acscallautomation.communication.azure.com"
        assert claims["exp"] > claims["iat"]


@pytest.mark.asyncio
async def test_the_incoming_call_event_is_event_grid_shaped_and_delivered_to_the_functions_webhook(emu, receiver):
    event = emu.incoming_call(from_="8:acs:resource_user", to=APP_NUMBER, caller_display_name="Ada",
                              sip_headers={"X-MS-Custom-Tier": "gold"}, voip_headers={"tier": "gold"})

    status = await emu.deliver_incoming_call(event)

    assert status == 200
    [post] = receiver.received
    assert post.path == "/runtime/webhooks/eventgrid"
    assert post.query == {"functionName": "incoming_call"}
    assert post.headers["aeg-event-type"] == "Notification"
    assert post.body == [event]
    assert event["eventType"] == "Microsoft.Communication.IncomingCall"
    assert event["dataVersion"] and event["metadataVersion"] and event["eventTime"] and event["topic"]
    data = event["data"]
    assert data["from"] == {"kind": "communicationUser", "rawId": "8:acs:resource_user",
                            "communicationUser": {"id": "8:acs:resource_user"}}
    assert data["to"] == {"kind": "phoneNumber", "rawId": "4:" + APP_NUMBER, "phoneNumber": {"value": APP_NUMBER}}
    assert data["callerDisplayName"] == "Ada"
    assert data["customContext"] == {"sipHeaders": {"X-MS-Custom-Tier": "gold"}, "voipHeaders": {"tier": "gold"}}
    assert data["incomingCallContext"] and data["serverCallId"] and data["correlationId"]


@pytest.mark.asyncio
async def test_reject_and_redirect_return_204_and_the_same_call_cannot_be_handled_twice(emu, client, receiver):
    rejected = emu.incoming_call()
    redirected = emu.incoming_call()

    await client.reject_call(rejected["data"]["incomingCallContext"], call_reject_reason="busy")
    await client.redirect_call(redirected["data"]["incomingCallContext"], PhoneNumberIdentifier(AGENT))

    with pytest.raises(HttpResponseError) as again:
        await client.answer_call(rejected["data"]["incomingCallContext"], receiver.callback_url())
    assert again.value.status_code == 400
    assert again.value.error.code == "IncomingCallAlreadyHandled"
    with pytest.raises(HttpResponseError) as unknown:
        await client.answer_call("not-a-context", receiver.callback_url())
    assert unknown.value.error.code == "InvalidIncomingCallContext"
    assert [r["status"] for r in emu.requests] == [204, 204, 400, 400]
    await emu.idle()
    assert receiver.received == []


@pytest.mark.asyncio
async def test_older_api_versions_get_call_state_events_without_result_information(emu, receiver, raw):
    # As recorded with 2024-04-15 (create_call_answer_hangup.json): CallConnected, ParticipantsUpdated and
    # CallDisconnected carry neither resultInformation nor operationContext.
    event = emu.incoming_call(from_=CALLER, to=APP_NUMBER)
    status, _, body = await raw("POST", "/calling/callConnections:answer?api-version=2024-04-15", {
        "incomingCallContext": event["data"]["incomingCallContext"], "callbackUri": receiver.callback_url(),
        "operationContext": "given"})
    assert status == 200
    await emu.idle()
    status, _, _ = await raw("DELETE", f"/calling/callConnections/{body['callConnectionId']}?api-version=2024-04-15")
    assert status == 204
    await emu.idle()

    assert receiver.types() == ["CallConnected", "ParticipantsUpdated", "CallDisconnected"]
    for sent in receiver.events():
        assert "resultInformation" not in sent["data"] and "operationContext" not in sent["data"]
        assert sent["data"]["version"] == "2024-04-15"


@pytest.mark.asyncio
async def test_the_app_ending_the_call_gets_call_disconnected_200_7000(emu, client, receiver, answered):
    call_id = await answered()
    await client.get_call_connection(call_id).hang_up(is_for_everyone=True)
    await emu.idle()

    result = receiver.event("CallDisconnected")["data"]["resultInformation"]
    assert (result["code"], result["subCode"]) == (200, 7000) and "DiagCode: 0#7000" in result["message"]


@pytest.mark.asyncio
async def test_create_call_connects_when_the_target_answers(emu, client, receiver):
    emu.script_target(AGENT, "answer", delay_ms=50)

    result = await client.create_call(PhoneNumberIdentifier(AGENT), receiver.callback_url(),
                                      source_caller_id_number=PhoneNumberIdentifier(APP_NUMBER),
                                      operation_context="outbound")
    await emu.idle()

    assert result.call_connection_state == "connecting"
    assert [t.raw_id for t in result.targets] == ["4:" + AGENT]
    assert emu.requests[0]["status"] == 201
    assert receiver.types(result.call_connection_id) == ["CallConnected", "ParticipantsUpdated"]
    assert "operationContext" not in receiver.event("CallConnected")["data"]
    assert emu.call(result.call_connection_id).state == "connected"


@pytest.mark.asyncio
@pytest.mark.parametrize(("outcome", "code", "sub_code"), [
    ("busy", 486, 560486),
    ("decline", 603, 0),
    ("no-answer", 408, 10004),
])
async def test_create_call_fails_as_the_target_is_scripted(emu, client, receiver, outcome, code, sub_code):
    emu.script_target(ACS_USER, outcome)

    result = await client.create_call(CommunicationUserIdentifier(ACS_USER), receiver.callback_url())
    await emu.idle()

    assert receiver.types() == ["CreateCallFailed"]
    failed = receiver.event("CreateCallFailed")["data"]["resultInformation"]
    assert (failed["code"], failed["subCode"]) == (code, sub_code)
    props = await client.get_call_connection(result.call_connection_id).get_call_properties()
    assert props.call_connection_state == "disconnected"


@pytest.mark.asyncio
async def test_create_call_to_a_phone_without_a_caller_id_is_refused(client, receiver):
    with pytest.raises(HttpResponseError) as refused:
        await client.create_call(PhoneNumberIdentifier(AGENT), receiver.callback_url())

    assert refused.value.status_code == 400


@pytest.mark.asyncio
async def test_adding_or_transferring_to_a_phone_without_a_caller_id_is_refused_even_in_an_answered_pstn_call(
        emu, client, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)

    with pytest.raises(HttpResponseError) as added:
        await connection.add_participant(PhoneNumberIdentifier(AGENT))
    with pytest.raises(HttpResponseError) as transferred:
        await connection.transfer_call_to_participant(PhoneNumberIdentifier(AGENT))
    await emu.idle()

    assert added.value.status_code == transferred.value.status_code == 400
    assert "sourceCallerIdNumber" in added.value.error.message and "sourceCallerIdNumber" in transferred.value.error.message
    assert emu.call(call_id).invitations == {} and emu.call(call_id).state.value == "connected"


@pytest.mark.asyncio
async def test_connect_joins_a_known_call_and_fails_for_an_unknown_room(emu, client, receiver, answered):
    first = await answered()
    server_call_id = emu.call(first).server_call_id

    joined = await client.connect_call(receiver.callback_url("joined"), server_call_id=server_call_id)
    missing = await client.connect_call(receiver.callback_url("missing"), room_id="99434917639286209")
    await emu.idle()

    assert receiver.types(joined.call_connection_id) == ["CallConnected", "ParticipantsUpdated"]
    assert joined.server_call_id == server_call_id
    assert receiver.types(missing.call_connection_id) == ["ConnectFailed"]
    assert receiver.event("ConnectFailed")["data"]["resultInformation"]["code"] == 404


@pytest.mark.asyncio
async def test_a_registered_room_can_be_connected(emu, client, receiver):
    emu.add_call_locator("room-1", [ACS_USER])

    result = await client.connect_call(receiver.callback_url(), room_id="room-1")
    await emu.idle()

    updated = receiver.event("ParticipantsUpdated")["data"]["participants"]
    assert [p["identifier"]["rawId"] for p in updated] == [ACS_USER]
    assert emu.call(result.call_connection_id).state == "connected"


@pytest.mark.asyncio
async def test_get_call_and_participants_reflect_the_call(emu, client, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)

    properties = await connection.get_call_properties()
    participants = [p async for p in connection.list_participants()]
    caller = await connection.get_participant(PhoneNumberIdentifier(CALLER))

    assert properties.call_connection_state == "connected"
    assert properties.answered_for.raw_id == "4:" + APP_NUMBER
    assert [p.identifier.raw_id for p in participants] == ["4:" + CALLER]
    assert caller.identifier.raw_id == "4:" + CALLER and caller.is_muted is False
    with pytest.raises(ResourceNotFoundError):
        await connection.get_participant(PhoneNumberIdentifier(AGENT))
    assert [r["operation"] for r in emu.requests[-4:]] == [
        "CallConnection_GetCall", "CallConnection_GetParticipants", "CallConnection_GetParticipant",
        "CallConnection_GetParticipant"]


@pytest.mark.asyncio
async def test_an_unknown_call_connection_is_not_found(client):
    with pytest.raises(ResourceNotFoundError) as missing:
        await client.get_call_connection("00000000-0000-0000-0000-000000000000").get_call_properties()

    assert missing.value.status_code == 404


@pytest.mark.asyncio
async def test_add_participant_succeeds_then_updates_participants_on_the_call_callback(emu, client, receiver,
                                                                                      answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)

    result = await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"), operation_context="add-agent",
                                              operation_callback_url=receiver.callback_url("operations"))
    await emu.idle()

    assert result.invitation_id
    assert result.participant.identifier.raw_id == "4:" + AGENT
    assert receiver.types(call_id) == ["CallConnected", "ParticipantsUpdated", "AddParticipantSucceeded",
                                       "ParticipantsUpdated"]
    [succeeded] = receiver.events("/api/operations")
    assert succeeded["data"]["operationContext"] == "add-agent"
    assert succeeded["data"]["participant"]["rawId"] == "4:" + AGENT
    updated = receiver.events("/api/callbacks")[-1]["data"]
    assert updated["sequenceNumber"] == 2
    assert [p["identifier"]["rawId"] for p in updated["participants"]] == ["4:" + CALLER, "4:" + AGENT]


@pytest.mark.asyncio
@pytest.mark.parametrize(("outcome", "code"), [("decline", 603), ("busy", 486), ("no-answer", 408)])
async def test_add_participant_fails_as_the_target_is_scripted(emu, client, receiver, answered, outcome, code):
    call_id = await answered()
    emu.script_target(AGENT, outcome)

    await client.get_call_connection(call_id).add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"), invitation_timeout=5)
    await emu.idle()

    failed = receiver.event("AddParticipantFailed")["data"]
    assert failed["resultInformation"]["code"] == code
    assert failed["participant"]["rawId"] == "4:" + AGENT
    assert receiver.types(call_id)[-1] == "AddParticipantFailed"


@pytest.mark.asyncio
async def test_cancel_add_participant_stops_the_invitation(emu, client, receiver, answered):
    call_id = await answered()
    emu.script_target(AGENT, "ringing")  # rings until cancelled: no scaled timer for the cancel to beat
    connection = client.get_call_connection(call_id)
    added = await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))

    cancelled = await connection.cancel_add_participant_operation(added.invitation_id, operation_context="cancel")
    await emu.idle()

    assert cancelled.invitation_id == added.invitation_id
    assert receiver.types(call_id)[2:] == ["CancelAddParticipantSucceeded"]
    succeeded = receiver.event("CancelAddParticipantSucceeded")["data"]
    assert succeeded["invitationId"] == added.invitation_id and succeeded["operationContext"] == "cancel"


@pytest.mark.asyncio
async def test_cancelling_an_invitation_that_already_completed_fails(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    added = await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await emu.idle()

    await connection.cancel_add_participant_operation(added.invitation_id)
    await emu.idle()

    assert receiver.types(call_id)[-1] == "CancelAddParticipantFailed"
    assert receiver.event("CancelAddParticipantFailed")["data"]["invitationId"] == added.invitation_id


@pytest.mark.asyncio
async def test_remove_participant_sends_removed_then_participants_updated(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await emu.idle()

    result = await connection.remove_participant(PhoneNumberIdentifier(AGENT), operation_context="drop-agent")
    await emu.idle()

    assert result.operation_context == "drop-agent"
    assert receiver.types(call_id)[-2:] == ["RemoveParticipantSucceeded", "ParticipantsUpdated"]
    assert receiver.event("RemoveParticipantSucceeded")["data"]["participant"]["rawId"] == "4:" + AGENT
    assert [p["identifier"]["rawId"] for p in receiver.events()[-1]["data"]["participants"]] == ["4:" + CALLER]


@pytest.mark.asyncio
async def test_a_one_to_one_transfer_is_accepted_then_the_app_is_disconnected(emu, client, receiver, answered):
    call_id = await answered()

    result = await client.get_call_connection(call_id).transfer_call_to_participant(
        PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"), operation_context="to-agent")
    await emu.idle()

    assert result.operation_context == "to-agent"
    assert receiver.types(call_id)[2:] == ["CallTransferAccepted", "CallDisconnected"]
    accepted = receiver.event("CallTransferAccepted")["data"]
    assert (accepted["resultInformation"]["code"], accepted["resultInformation"]["subCode"]) == (200, 7015)
    assert accepted["transferTarget"]["rawId"] == "4:" + AGENT
    assert accepted["transferee"]["rawId"] == "4:" + CALLER
    assert emu.call(call_id).state == "disconnected"


@pytest.mark.asyncio
async def test_a_transfer_to_a_busy_target_fails_and_the_call_stays_up(emu, client, receiver, answered):
    call_id = await answered()
    emu.script_target(AGENT, "busy")
    connection = client.get_call_connection(call_id)

    await connection.transfer_call_to_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await emu.idle()

    assert receiver.types(call_id)[-1] == "CallTransferFailed"
    assert receiver.event("CallTransferFailed")["data"]["resultInformation"]["code"] == 486
    assert (await connection.get_call_properties()).call_connection_state == "connected"


@pytest.mark.asyncio
async def test_a_transfer_with_a_transferee_swaps_that_participant(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await emu.idle()

    await connection.transfer_call_to_participant(PhoneNumberIdentifier(SUPERVISOR), source_caller_id_number=PhoneNumberIdentifier("+18005550100"),
                                                  transferee=PhoneNumberIdentifier(AGENT))
    await emu.idle()

    assert receiver.types(call_id)[-2:] == ["CallTransferAccepted", "ParticipantsUpdated"]
    assert [p.identifier.raw_id for p in emu.call(call_id).participants] == ["4:" + CALLER, "4:" + SUPERVISOR]


@pytest.mark.asyncio
async def test_hang_up_disconnects_the_app_and_later_actions_are_refused_with_8501(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)

    await connection.hang_up(is_for_everyone=False)
    await emu.idle()

    assert receiver.types(call_id)[-1] == "CallDisconnected"
    assert emu.requests[-1]["operation"] == "CallConnection_HangupCall"
    assert emu.requests[-1]["status"] == 204
    with pytest.raises(HttpResponseError) as refused:
        await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier(APP_NUMBER))
    assert refused.value.status_code == 400 and refused.value.error.code == "8501"


@pytest.mark.asyncio
async def test_terminate_ends_the_call_for_everyone(emu, client, receiver, answered):
    call_id = await answered()

    await client.get_call_connection(call_id).hang_up(is_for_everyone=True)
    await emu.idle()

    assert emu.requests[-1]["operation"] == "CallConnection_TerminateCall"
    assert receiver.types(call_id)[-1] == "CallDisconnected"
    assert emu.call(call_id).participants == []


@pytest.mark.asyncio
async def test_the_caller_hanging_up_updates_a_group_call_and_ends_a_one_to_one(emu, client, receiver, answered):
    call_id = await answered()
    await client.get_call_connection(call_id).add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await emu.idle()

    emu.hang_up(call_id)
    await emu.idle()
    assert receiver.types(call_id)[-1] == "ParticipantsUpdated"
    assert [p["identifier"]["rawId"] for p in receiver.events()[-1]["data"]["participants"]] == ["4:" + AGENT]

    emu.hang_up(call_id, "4:" + AGENT)
    await emu.idle()
    assert receiver.types(call_id)[-1] == "CallDisconnected"
    assert receiver.events()[-1]["data"]["resultInformation"]["subCode"] == 560000


@pytest.mark.asyncio
async def test_events_of_one_call_arrive_in_order_even_when_the_app_is_slow(emu, client, receiver, answered):
    receiver.delay_s = 0.02
    call_id = await answered()
    connection = client.get_call_connection(call_id)

    await connection.add_participant(PhoneNumberIdentifier(AGENT), source_caller_id_number=PhoneNumberIdentifier("+18005550100"))
    await connection.remove_participant(PhoneNumberIdentifier(CALLER))
    await emu.idle()

    assert receiver.types(call_id) == ["CallConnected", "ParticipantsUpdated", "AddParticipantSucceeded",
                                       "ParticipantsUpdated", "RemoveParticipantSucceeded", "ParticipantsUpdated"]
    assert [e["data"]["sequenceNumber"] for e in receiver.events() if "sequenceNumber" in e["data"]] == [1, 2, 3]
    assert json.dumps(emu.callbacks[0]["event"]) == json.dumps(receiver.events()[0])
