"""Incoming calls end to end: Event Grid webhook -> incoming_call -> SDK -> emulator -> callbacks -> Azurite."""

import json

import pytest

from shared.bootstrap import build_services
from shared.errors import ConfigError
from tests.e2e.conftest import AGENT, TEAMS_AGENT, eventgrid_event, registered

pytestmark = pytest.mark.e2e


def requests_for(stack, operation, event):
    """The emulator's record of the app's requests of one operation for one incoming call."""
    context_free = [r for r in stack.emulator.requests if r["operation"] == operation]
    return [r for r in context_free if r.get("correlation_id") == event["data"]["correlationId"]] or [
        r for r in context_free if (r.get("body") or {}).get("incomingCallContext") == event["data"]["incomingCallContext"]
    ]


async def test_answered_call_connects_lists_participants_and_ends_on_hang_up(stack):
    event = await stack.ring(from_="+14255550123", to="+18005550100")
    call = await stack.call_for(event)
    assert call["direction"] == "inbound" and call["state"] == "connected"
    assert call["decision"] == {"action": "answer", "rule": "support"}
    assert call["from"] == "+14255550123" and call["to"] == "+18005550100"
    assert call["callConnectionId"] and call["id"] == call["callConnectionId"]
    assert call["serverCallId"] == event["data"]["serverCallId"]
    assert "4:+14255550123" in call["participants"]
    assert [e["type"] for e in call["events"]] == ["CallConnected", "ParticipantsUpdated"]

    stack.emulator.hang_up(call["callConnectionId"])
    await stack.emulator.idle()
    status, ended = await stack.get(f"/api/calls/{call['callConnectionId']}")
    assert status == 200 and ended["state"] == "disconnected" and ended["endedAt"]
    assert [e["type"] for e in ended["events"]][-1] == "CallDisconnected"


async def test_answer_gives_acs_a_per_call_callback_url_without_personal_data(stack):
    event = await stack.ring(from_="+14255550124", to="+18005550100")
    call = await stack.call_for(event)
    [answer] = [r for r in stack.emulator.requests if r["operation"] == "AnswerCall"
                and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    url = answer["body"]["callbackUri"]
    assert url.startswith(f"{stack.url}/api/callbacks/")
    assert "4255550124" not in url and "8005550100" not in url
    assert answer["body"]["operationContext"] == "answer:support"
    assert call["state"] == "connected"


@pytest.mark.parametrize("to,reason,rule", [
    ("+18005550102", "busy", "busy-line"),
    ("+18005550103", "none", "closed-line"),
    ("+18005550104", "busy", "default"),
])
async def test_rejects_with_the_rules_reason_and_records_it(stack, to, reason, rule):
    event = await stack.ring(from_="+14255550125", to=to)
    call = await stack.call_for(event)
    assert call["state"] == "rejected" and call["callConnectionId"] is None
    assert call["decision"] == {"action": "reject", "rule": rule, "reason": reason}
    [reject] = [r for r in stack.emulator.requests if r["operation"] == "RejectCall"
                and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert reject["status"] == 204 and reject["body"].get("callRejectReason", "none") == reason


async def test_rejects_premium_callers_with_forbidden(stack):
    event = await stack.ring(from_="+19005550123", to="+18005550100")
    call = await stack.call_for(event)
    assert call["decision"] == {"action": "reject", "rule": "block-premium", "reason": "forbidden"}
    [reject] = [r for r in stack.emulator.requests if r["operation"] == "RejectCall"
                and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert reject["body"]["callRejectReason"] == "forbidden"


@pytest.mark.parametrize("to,target,raw_id,rule", [
    ("+18005550177", "+18005550199", "4:+18005550199", "overflow"),
    ("+18005550178", AGENT, AGENT, "to-agent"),
    ("+18005550179", TEAMS_AGENT, TEAMS_AGENT, "to-teams"),
])
async def test_redirects_to_a_number_or_a_user(stack, to, target, raw_id, rule):
    event = await stack.ring(from_="+14255550126", to=to)
    call = await stack.call_for(event)
    assert call["state"] == "redirected"
    assert call["decision"] == {"action": "redirect", "rule": rule, "target": target}
    [redirect] = [r for r in stack.emulator.requests if r["operation"] == "RedirectCall"
                  and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert redirect["status"] == 204 and redirect["body"]["target"]["rawId"] == raw_id


async def test_acs_user_callers_are_routed_by_voip_headers(stack):
    event = await stack.ring(from_=AGENT.replace("a1", "b2"), to="8:acs:00000000-0000-0000-0000-000000000000_ff",
                             voip_headers={"X-MS-Custom-Tier": "gold"})
    call = await stack.call_for(event)
    assert call["decision"]["rule"] == "gold" and call["state"] == "connected"


async def test_a_redelivered_incoming_call_is_answered_once(stack):
    event = stack.emulator.incoming_call(from_="+14255550127", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 200
    assert await stack.emulator.deliver_incoming_call(event) == 200
    await stack.emulator.idle()
    answers = [r for r in stack.emulator.requests if r["operation"] == "AnswerCall"
               and r["body"]["incomingCallContext"] == event["data"]["incomingCallContext"]]
    assert len(answers) == 2 and answers[0]["repeatability_id"] == answers[1]["repeatability_id"]
    assert [bool(r.get("replayed")) for r in answers] == [False, True]
    call = await stack.call_for(event)
    assert [e["type"] for e in call["events"]] == ["CallConnected", "ParticipantsUpdated"]


async def test_the_trigger_invoked_directly_as_the_host_does_records_the_decision(stack):
    event = stack.emulator.incoming_call(from_="+14255550128", to="+18005550102")
    await registered("incoming_call")(event=eventgrid_event(event))
    call = await stack.call_for(event)
    assert call["state"] == "rejected" and call["decision"]["reason"] == "busy"


async def test_other_event_types_are_ignored_without_acting(stack):
    before = len(stack.emulator.requests)
    event = stack.emulator.incoming_call(from_="+14255550129", to="+18005550100")
    event["eventType"] = "Microsoft.Communication.CallStarted"
    await registered("incoming_call")(event=eventgrid_event(event))
    assert len(stack.emulator.requests) == before


async def test_a_malformed_incoming_call_is_logged_and_not_acted_on(stack, caplog):
    before = len(stack.emulator.requests)
    event = stack.emulator.incoming_call(from_="+14255550130", to="+18005550100")
    del event["data"]["incomingCallContext"]
    await registered("incoming_call")(event=eventgrid_event(event))
    assert len(stack.emulator.requests) == before
    assert "data.incomingCallContext is missing" in caplog.text


async def test_event_grid_subscription_validation_is_answered(stack):
    from tests.payloads import load_event

    body = load_event("eventgrid_subscription_validation")
    status, reply = await stack.post(f"{stack.url}/runtime/webhooks/eventgrid?functionName=incoming_call", body,
                                     headers={"aeg-event-type": "SubscriptionValidation"})
    assert status == 200 and reply == {"validationResponse": body[0]["data"]["validationCode"]}


async def test_an_invalid_ruleset_is_refused_at_load_naming_rule_and_field(stack, settings_changed):
    bad = {"rules": [{"name": "vip", "match": {"from": ["+1425*"]}, "action": "redirect", "target": "nobody"}],
           "default": {"action": "reject"}}
    settings_changed(ROUTING_RULES=json.dumps(bad))
    with pytest.raises(ConfigError) as caught:
        build_services()
    assert "rule 'vip'" in str(caught.value) and "target" in str(caught.value)
    before = len(stack.emulator.requests)
    event = stack.emulator.incoming_call(from_="+14255550131", to="+18005550100")
    assert await stack.emulator.deliver_incoming_call(event) == 500
    assert len(stack.emulator.requests) == before
    status, problem = await stack.get("/api/calls?limit=1")
    assert status == 500 and "rule 'vip'" in problem["detail"]
