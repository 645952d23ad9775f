"""Callbacks end to end: the per-call token, bad bodies refused, duplicates and out-of-order events harmless."""

import json

import pytest

from tests.payloads import callback

pytestmark = pytest.mark.e2e


async def answered_call(stack, caller):
    event = await stack.ring(from_=caller, to="+18005550100")
    call = await stack.call_for(event)
    [answer] = [r for r in stack.emulator.requests if r["operation"] == "AnswerCall"
                and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    call_key = answer["body"]["callbackUri"].rstrip("/").split("/")[-2]
    return call, call_key


def for_call(name, call, **data):
    body = callback(name, callConnectionId=call["callConnectionId"], correlationId=call["correlationId"], **data)
    body[0]["id"] = f"{name}-{call['callConnectionId']}-{len(json.dumps(data))}"
    return body


async def unchanged(stack, call):
    status, now = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert status == 200
    assert (now["state"], now["events"], now["participants"]) == (call["state"], call["events"], call["participants"])


@pytest.mark.parametrize("data,detail", [
    (b"{not json", "not valid JSON"),
    (b'{"type": "Microsoft.Communication.CallDisconnected"}', "JSON array"),
    (b"[]", "empty array"),
    (b'[{"id": "x", "type": "Microsoft.Communication.CallDisconnected", "data": {}}]', "callConnectionId is missing"),
    (b'[{"id": "x", "type": "Microsoft.Communication.CallDisconnected", "data": "gone"}]', "data must be an object"),
])
async def test_a_bad_callback_body_gets_400_saying_what_is_wrong_and_changes_nothing(stack, data, detail):
    call, call_key = await answered_call(stack, "+14255550140")
    status, problem = await stack.post(stack.callback_url(call_key), data=data)
    assert status == 400 and detail in problem["detail"]
    await unchanged(stack, call)


async def test_a_batch_with_one_bad_event_changes_nothing(stack):
    call, call_key = await answered_call(stack, "+14255550141")
    good = for_call("CallDisconnected", call)
    bad = {"id": "bad", "type": "Microsoft.Communication.ParticipantsUpdated", "data": {"callConnectionId": 5}}
    status, problem = await stack.post(stack.callback_url(call_key), good + [bad])
    assert status == 400 and "[1].data.callConnectionId" in problem["detail"]
    await unchanged(stack, call)


@pytest.mark.parametrize("token", ["A" * 43, "not-a-token", "%20"])
async def test_a_wrong_token_gets_401_and_changes_nothing(stack, token):
    call, call_key = await answered_call(stack, "+14255550142")
    status, problem = await stack.post(stack.callback_url(call_key, token=token), for_call("CallDisconnected", call))
    assert status == 401 and problem["title"] == "Unauthorized"
    await unchanged(stack, call)


async def test_a_callback_url_without_token_reaches_no_function(stack):
    call, call_key = await answered_call(stack, "+14255550151")
    status, _ = await stack.post(f"{stack.url}/api/callbacks/{call_key}", for_call("CallDisconnected", call))
    assert status == 404
    await unchanged(stack, call)


async def test_a_valid_token_for_one_call_cannot_change_another(stack):
    victim, _ = await answered_call(stack, "+14255550143")
    _, attacker_key = await answered_call(stack, "+14255550144")
    status, problem = await stack.post(stack.callback_url(attacker_key), for_call("CallDisconnected", victim))
    assert status == 401 and "token" not in json.dumps(problem).lower().replace("authenticated", "")
    await unchanged(stack, victim)


async def test_a_repeated_event_changes_nothing_the_second_time(stack):
    call, call_key = await answered_call(stack, "+14255550145")
    event = for_call("AddParticipantFailed", call)
    first = await stack.post(stack.callback_url(call_key), event)
    second = await stack.post(stack.callback_url(call_key), event)
    assert first == (200, {"applied": 1, "duplicates": 0})
    assert second == (200, {"applied": 0, "duplicates": 1})
    _, now = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert [e["type"] for e in now["events"]].count("AddParticipantFailed") == 1


async def test_a_stale_participants_list_does_not_replace_a_newer_one(stack):
    call, call_key = await answered_call(stack, "+14255550146")
    newer = for_call("ParticipantsUpdated", call, sequenceNumber=50)
    older = for_call("ParticipantsUpdated", call, sequenceNumber=40,
                     participants=[{"identifier": {"rawId": "4:+14255550999", "kind": "phoneNumber"}}])
    assert (await stack.post(stack.callback_url(call_key), newer))[0] == 200
    assert (await stack.post(stack.callback_url(call_key), older))[0] == 200
    _, now = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert "4:+14255550999" not in now["participants"]


async def test_nothing_after_call_disconnected_brings_the_call_back(stack):
    call, call_key = await answered_call(stack, "+14255550147")
    await stack.post(stack.callback_url(call_key), for_call("CallDisconnected", call))
    await stack.post(stack.callback_url(call_key), for_call("CallConnected", call, operationContext="late"))
    _, now = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert now["state"] == "disconnected"
    assert [e["type"] for e in now["events"]][-2:] == ["CallDisconnected", "CallConnected"]


async def test_unknown_event_types_are_recorded_and_skipped(stack):
    call, call_key = await answered_call(stack, "+14255550148")
    status, _ = await stack.post(stack.callback_url(call_key), for_call("PlayCompleted", call))
    _, now = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert status == 200 and now["state"] == "connected" and now["events"][-1]["type"] == "PlayCompleted"


async def test_an_oversized_body_gets_413(stack):
    call, call_key = await answered_call(stack, "+14255550149")
    status, problem = await stack.post(stack.callback_url(call_key), data=b"[" + b" " * (300 * 1024) + b"]")
    assert status == 413 and "limit" in problem["detail"]
    await unchanged(stack, call)


async def test_an_unknown_call_id_gets_a_404_problem_document(stack):
    async with stack.http.get(f"{stack.url}/api/calls/no-such-call") as response:
        assert response.status == 404
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "no-such-call" in (await response.json(content_type=None))["detail"]


async def test_calls_are_listed_newest_first_with_filters(stack):
    # Its own three calls, so that the checks hold however many calls (if any) other tests left.
    first, _ = await answered_call(stack, "+14255550150")
    rejected = await stack.call_for(await stack.ring(from_="+14255550151", to="+18005550102"))
    second, _ = await answered_call(stack, "+14255550152")
    assert rejected["state"] == "rejected" and second["state"] == first["state"] == "connected"
    mine = {first["id"], rejected["id"], second["id"]}
    status, listing = await stack.get("/api/calls?limit=500")
    assert status == 200
    ids = [c["id"] for c in listing["calls"]]
    assert [i for i in ids if i in mine] == [second["id"], rejected["id"], first["id"]]
    started = [c["startedAt"] for c in listing["calls"] if c["id"] in mine]
    assert started == sorted(started, reverse=True)
    status, top = await stack.get("/api/calls?limit=2")
    assert status == 200 and [c["id"] for c in top["calls"]] == ids[:2]
    _, only_rejected = await stack.get("/api/calls?state=rejected&limit=500")
    rejected_ids = [c["id"] for c in only_rejected["calls"]]
    assert rejected["id"] in rejected_ids and not {first["id"], second["id"]} & set(rejected_ids)
    assert all(c["state"] == "rejected" for c in only_rejected["calls"])
    _, outbound = await stack.get("/api/calls?direction=outbound&limit=500")
    assert not mine & {c["id"] for c in outbound["calls"]}
    _, inbound = await stack.get("/api/calls?direction=inbound&limit=500")
    assert mine <= {c["id"] for c in inbound["calls"]}
    status, problem = await stack.get("/api/calls?limit=0")
    assert status == 400 and problem["field"] == "limit"
    status, problem = await stack.get("/api/calls?state=ringing")
    assert status == 400 and problem["field"] == "state"
