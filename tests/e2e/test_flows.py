"""Call flows end to end: the functions function_app.py registers, the SDK over HTTP to the emulator, Azurite.

Menus (every option, an invalid key, silence to noInput, a nested menu), the holiday calendar on the app's
shifted clock, a queue with music on hold, a voicemail recorded and listed, a failed play, and the caller
hanging up in each step."""

import copy
import json
import time
from datetime import datetime, timezone

import pytest

from tests.e2e.conftest import eventgrid_event, registered, ring_agent
from tests.unit.test_flows_rules import ISSUE_RULES

pytestmark = pytest.mark.e2e

LINE = "+18005550100"
CONTAINER = "http://127.0.0.1:10000/devstoreaccount1/recordings"
SALES_1, SALES_2, SUPPORT_1 = ring_agent(31), ring_agent(32), ring_agent(33)


def flow_rules():
    rules = copy.deepcopy(ISSUE_RULES)
    menu = rules["flows"]["main-menu"]["menu"]
    menu["options"]["1"]["ring"] = [SALES_1, SALES_2]
    menu["options"]["1"]["timeoutSeconds"] = 180  # 1.8 s at the emulator's scale: the winner's cancel comes first
    menu["options"]["4"] = {"flow": "billing-menu"}
    rules["flows"]["support-queue"]["queue"]["ring"] = [SUPPORT_1, "+14255550111"]
    rules["flows"]["billing-menu"] = {"menu": {
        "prompt": "https://media.example.com/billing.wav",
        "options": {"1": {"transfer": "+18005550188"}, "9": {"flow": "main-menu"}}}}
    rules["flows"]["short-queue"] = {"queue": {
        "music": "https://media.example.com/hold-music.wav", "ring": [ring_agent(34)], "timeoutSeconds": 20,
        "maxWaitSeconds": 50, "overflow": {"flow": "voicemail"}}}
    rules["rules"].insert(0, {"name": "short-queue", "match": {"to": ["+18005550101"]}, "action": "answer",
                              "then": {"flow": "short-queue"}})
    # Long rings for the tests where the caller hangs up while agents ring.
    rules["flows"]["slow-ring"] = {"ring": [ring_agent(35), ring_agent(36)], "timeoutSeconds": 180,
                                   "fallback": {"hangup": True}}
    rules["flows"]["slow-queue"] = {"queue": {
        "music": "https://media.example.com/hold-music.wav", "ring": [ring_agent(37)], "timeoutSeconds": 180,
        "maxWaitSeconds": 600}}
    rules["rules"].insert(0, {"name": "slow-ring", "match": {"to": ["+18005550103"]}, "action": "answer",
                              "then": {"flow": "slow-ring"}})
    rules["rules"].insert(0, {"name": "slow-queue", "match": {"to": ["+18005550104"]}, "action": "answer",
                              "then": {"flow": "slow-queue"}})
    rules["flows"]["long-voicemail"] = {"voicemail": {"prompt": "https://media.example.com/leave-a-message.wav",
                                                      "maxSeconds": 600}}
    rules["rules"].insert(0, {"name": "long-voicemail", "match": {"to": ["+18005550105"]}, "action": "answer",
                              "then": {"flow": "long-voicemail"}})
    rules["rules"].insert(0, {"name": "straight-to-voicemail", "match": {"to": ["+18005550102"]},
                              "action": "answer", "then": {"flow": "voicemail"}})
    return rules


@pytest.fixture
async def flows(stack, settings_changed):
    settings_changed(ROUTING_RULES=json.dumps(flow_rules()), RECORDINGS_CONTAINER_URL=CONTAINER)
    return stack


async def settle(stack, event):
    """The call once the emulator and the app are quiet and its flow has nothing pending."""
    for _ in range(30):
        await stack.emulator.idle(timeout=15)
        call = await stack.call_for(event)
        if call["state"] != "connected" or (call.get("planState") or {}).get("phase") == "done":
            return call
    return call


async def dial(stack, caller, to=LINE, keys=None):
    if keys is not None:
        stack.emulator.script_keys(caller, keys)
    event = stack.emulator.incoming_call(from_=caller, to=to)
    assert await stack.emulator.deliver_incoming_call(event) == 200
    return event, await settle(stack, event)


def plan_ops(call, action):
    return [o for o in call["operations"] if o["source"] == "plan" and o["action"] == action]


def requests(stack, call, operation):
    recordings = {o.get("recordingId") for o in plan_ops(call, "startRecording") if o.get("recordingId")}
    return [r for r in stack.emulator.requests if r["operation"].split("_")[-1] == operation
            and (call["callConnectionId"] in r["path"] or (r["body"] or {}).get("callConnectionId")
                 == call["callConnectionId"] or any(f"/recordings/{rid}" in r["path"] for rid in recordings))]


def kinds(call):
    return [entry["kind"] for entry in call["planState"]["path"]]


async def test_the_menu_asks_with_an_interruptible_one_key_recognize_that_validates_against_the_spec(flows):
    _, call = await dial(flows, "+14255550301", keys=["2"])
    [recognize] = requests(flows, call, "Recognize")
    assert recognize["status"] == 202
    body = recognize["body"]
    assert body["recognizeInputType"] == "dtmf"
    assert body["playPrompt"] == {"kind": "file", "file": {"uri": "https://media.example.com/welcome.wav"}} \
        or body["playPrompts"] == [{"kind": "file", "file": {"uri": "https://media.example.com/welcome.wav"}}]
    options = body["recognizeOptions"]
    assert options["interruptPrompt"] is True and options["initialSilenceTimeoutInSeconds"] == 5
    assert options["dtmfOptions"]["maxTonesToCollect"] == 1
    assert options["targetParticipant"]["rawId"] == "4:+14255550301"
    [op] = plan_ops(call, "recognize")
    assert op["status"] == "succeeded" and op["result"]["digits"] == "2"


async def test_option_1_rings_the_sales_group_at_once_and_the_first_answer_wins(flows):
    flows.emulator.script_target(SALES_1, "no-answer")
    flows.emulator.script_target(SALES_2, "answer")
    _, call = await dial(flows, "+14255550302", keys=["1"])
    invites = {o["target"]: o for o in plan_ops(call, "addParticipant")}
    assert invites[SALES_2]["status"] == "succeeded" and invites[SALES_1]["status"] == "cancelled"
    assert call["planState"]["winner"] == SALES_2 and call["state"] == "connected"
    adds = requests(flows, call, "AddParticipant")
    assert len(adds) == 2 and all(a["body"]["invitationTimeoutInSeconds"] == 180 for a in adds)


async def test_option_1_unanswered_falls_back_to_the_voicemail_flow(flows):
    flows.emulator.script_target(SALES_1, "decline")
    flows.emulator.script_target(SALES_2, "busy")
    event, call = await dial(flows, "+14255550303", keys=["1"])
    assert call["planState"]["at"] == "flows/voicemail" or "recorded" in kinds(call)
    assert plan_ops(call, "startRecording")


async def test_option_2_transfers(flows):
    _, call = await dial(flows, "+14255550304", keys=["2"])
    [transfer] = plan_ops(call, "transfer")
    assert transfer["target"] == "+18005550199" and transfer["status"] == "succeeded"
    assert call["state"] == "transferred"


async def test_option_3_queues_with_music_and_the_second_agent_answers_after_hold_then_unhold(flows):
    flows.emulator.script_target(SUPPORT_1, "no-answer")
    flows.emulator.script_target("+14255550111", "answer")
    _, call = await dial(flows, "+14255550305", keys=["3"])
    [hold] = requests(flows, call, "Hold")
    assert hold["status"] == 200 and hold["body"]["targetParticipant"]["rawId"] == "4:+14255550305"
    assert hold["body"]["playSourceInfo"] == {"kind": "file",
                                              "file": {"uri": "https://media.example.com/hold-music.wav"}}
    [unhold] = requests(flows, call, "Unhold")
    assert unhold["status"] == 200
    hold_at = flows.emulator.requests.index(hold)
    adds = requests(flows, call, "AddParticipant")
    assert [a["body"]["participantToAdd"]["rawId"] for a in adds] == [SUPPORT_1, "4:+14255550111"]
    assert flows.emulator.requests.index(adds[0]) > hold_at
    assert flows.emulator.requests.index(unhold) > flows.emulator.requests.index(adds[1])
    assert call["planState"]["winner"] == "+14255550111" and call["planState"]["phase"] == "done"
    assert [o["status"] for o in plan_ops(call, "hold") + plan_ops(call, "unhold")] == ["succeeded", "succeeded"]
    # The caller is off hold and talking to the agent.
    emu_call = flows.emulator.call(call["callConnectionId"])
    assert [p.is_on_hold for p in emu_call.participants] == [False, False]


async def test_option_0_asks_the_menu_again(flows):
    _, call = await dial(flows, "+14255550306", keys=["0", "2"])
    assert len(requests(flows, call, "Recognize")) == 2
    assert kinds(call)[:5] == ["flow", "menu", "digit", "flow", "menu"] and call["state"] == "transferred"


async def test_an_invalid_key_plays_the_invalid_prompt_then_a_valid_one_is_taken(flows):
    _, call = await dial(flows, "+14255550307", keys=["7", "2"])
    first, second = requests(flows, call, "Recognize")
    assert [p["file"]["uri"] for p in second["body"]["playPrompts"]] == [
        "https://media.example.com/invalid.wav", "https://media.example.com/welcome.wav"]
    assert [e.get("digit") for e in call["planState"]["path"] if e["kind"] == "digit"] == ["7", "2"]
    assert call["state"] == "transferred"


async def test_silence_through_every_retry_goes_to_no_input(flows):
    _, call = await dial(flows, "+14255550308", keys=[None, None, None])
    assert len(requests(flows, call, "Recognize")) - len([o for o in plan_ops(call, "recognize")
                                                          if "timer" in o["operationContext"]]) == 3
    assert kinds(call).count("noInput") == 3
    assert any(e.get("at") == "flows/voicemail" for e in call["planState"]["path"])


async def test_a_nested_menu_takes_its_own_options(flows):
    _, call = await dial(flows, "+14255550309", keys=["4", "1"])
    prompts = [r["body"].get("playPrompt") or r["body"]["playPrompts"][0] for r in requests(flows, call, "Recognize")]
    assert [p["file"]["uri"] for p in prompts] == ["https://media.example.com/welcome.wav",
                                                   "https://media.example.com/billing.wav"]
    [transfer] = plan_ops(call, "transfer")
    assert transfer["target"] == "+18005550188" and call["state"] == "transferred"


@pytest.mark.parametrize("utc_time, rule", [
    ("2026-12-25T05:00:00", "holiday"),   # 00:00 on Christmas Day in New York
    ("2026-12-25T04:59:00", "main"),      # 23:59 on the 24th there (already the 25th in UTC)
    ("2026-12-26T05:00:00", "main"),      # the day after, from midnight
])
async def test_the_holiday_calendar_wins_on_its_date_only_on_the_shifted_clock(stack, settings_changed, utc_time, rule):
    target = datetime.fromisoformat(utc_time).replace(tzinfo=timezone.utc)
    # The time the rules see shifted onto the moment (30 s after it: the call is placed within the next 30 s).
    offset = int(target.timestamp() - time.time()) + (-30 if utc_time.endswith("04:59:00") else 30)
    settings_changed(ROUTING_RULES=json.dumps(flow_rules()), RECORDINGS_CONTAINER_URL=CONTAINER,
                     CLOCK_OFFSET_SECONDS=str(offset))
    caller = f"+1425555031{['holiday', 'main'].index(rule)}"
    _, call = await dial(stack, caller, keys=["2"])
    assert call["decision"]["rule"] == rule
    if rule == "holiday":
        [play] = requests(stack, call, "Play")
        assert play["body"]["playSources"] == [{"kind": "file", "file": {"uri": "https://media.example.com/closed.wav"}}]
        assert call["state"] == "disconnected" and plan_ops(call, "hangUp")


async def test_a_failed_play_hangs_up_with_the_failure_recorded(stack, settings_changed):
    rules = flow_rules()
    rules["flows"]["closed"]["play"] = "https://media.example.com/broken.wav"
    rules["calendars"]["us-holidays"]["dates"] = ["2000-01-01..2000-12-31", "2026-01-01..2026-12-31",
                                                  "2027-01-01..2027-12-31"]
    settings_changed(ROUTING_RULES=json.dumps(rules), RECORDINGS_CONTAINER_URL=CONTAINER)
    stack.emulator.script_media("https://media.example.com/broken.wav", "invalid")
    _, call = await dial(stack, "+14255550313")
    [play] = plan_ops(call, "play")
    assert play["status"] == "failed" and play["result"]["subCode"] == 8535
    assert call["planState"]["outcome"] == "failed" and call["planState"]["error"]["action"] == "play"
    assert call["state"] == "disconnected" and plan_ops(call, "hangUp")[0]["status"] == "succeeded"
    assert any(e["type"] == "PlayFailed" for e in call["events"])


async def test_a_voicemail_is_recorded_into_the_container_and_listed_newest_first(flows):
    event, call = await dial(flows, "+14255550314", to="+18005550102")
    [start] = requests(flows, call, "StartRecording")
    body = start["body"]
    assert body["callConnectionId"] == call["callConnectionId"]
    assert (body["recordingContentType"], body["recordingChannelType"], body["recordingFormatType"]) == \
        ("audio", "mixed", "wav")
    assert body["externalStorage"] == {"recordingStorageKind": "azureBlobStorage",
                                       "recordingDestinationContainerUrl": CONTAINER}
    [stop] = requests(flows, call, "StopRecording")
    assert stop["status"] == 204
    voicemail = call["voicemail"]
    assert voicemail["recordingId"] == plan_ops(call, "startRecording")[0]["recordingId"]
    assert voicemail["contentLocation"].startswith(CONTAINER) and voicemail["durationMs"] > 0
    assert voicemail["from"] == "+14255550314"
    status, listing = await flows.get("/api/voicemails?limit=5")
    assert status == 200 and listing["voicemails"][0]["callId"] == call["id"]
    assert listing["voicemails"][0]["from"] == "+14255550314"
    assert call["state"] == "disconnected" and "recorded" in kinds(call) and "voicemail" in kinds(call)


async def test_a_queue_overflows_to_voicemail_after_max_wait_seconds(flows):
    flows.emulator.script_target(ring_agent(34), "no-answer")
    _, call = await dial(flows, "+14255550315", to="+18005550101")
    adds = requests(flows, call, "AddParticipant")
    # 50 s of waiting in invitations of 20 s: 20 + 20 + 10.
    assert [a["body"]["invitationTimeoutInSeconds"] for a in adds] == [20, 20, 10]
    assert call["planState"]["outcome"] in ("overflow", "caller hung up") or "overflow" in kinds(call)
    assert "overflow" in kinds(call) and requests(flows, call, "Unhold")
    assert plan_ops(call, "startRecording") and call["voicemail"]


async def test_a_repeated_recording_file_event_records_the_voicemail_once(flows):
    _, call = await dial(flows, "+14255550316", to="+18005550102")
    [published] = [e for e in flows.emulator.recording_file_events
                   if e["subject"].endswith(call["serverCallId"])]
    await registered("recording_file_status")(eventgrid_event(published))
    status, listing = await flows.get("/api/voicemails?limit=500")
    assert [v["callId"] for v in listing["voicemails"]].count(call["id"]) == 1


async def test_a_recording_of_another_call_is_ignored(flows):
    _, call = await dial(flows, "+14255550317", to="+18005550102")
    [published] = [e for e in flows.emulator.recording_file_events if e["subject"].endswith(call["serverCallId"])]
    foreign = copy.deepcopy(published)
    foreign["id"] = "foreign-1"
    foreign["subject"] = "/recording/call/x/serverCallId/c29tZS1vdGhlci1jYWxs"
    await registered("recording_file_status")(eventgrid_event(foreign))
    status, listing = await flows.get("/api/voicemails?limit=500")
    assert all(v["contentLocation"] for v in listing["voicemails"])
    assert [v["callId"] for v in listing["voicemails"]].count(call["id"]) == 1


@pytest.mark.parametrize("to, keys, scripts, step", [
    (LINE, [None, None, None], {}, "menu"),                                # while the menu waits
    ("+18005550103", None, {ring_agent(35): "no-answer", ring_agent(36): "no-answer"}, "ring"),  # agents ringing
    ("+18005550104", None, {ring_agent(37): "no-answer"}, "queue"),                            # on hold
    ("+18005550105", None, {}, "voicemail"),                               # while recording
])
async def test_the_caller_hanging_up_ends_the_flow_in_each_step(flows, to, keys, scripts, step):
    import asyncio

    caller = {"menu": "+14255550321", "ring": "+14255550322", "queue": "+14255550323", "voicemail": "+14255550324"}[step]
    for target, outcome in scripts.items():
        flows.emulator.script_target(target, outcome)
    if keys is not None:
        flows.emulator.script_keys(caller, keys)
    # Long files and timeouts: the caller leaves while the step waits.
    flows.emulator.script_media("https://media.example.com/welcome.wav", "ok", duration_ms=100_000)
    flows.emulator.script_media("https://media.example.com/leave-a-message.wav", "ok", duration_ms=10)
    if step == "menu":
        keys = None
    event = flows.emulator.incoming_call(from_=caller, to=to)
    assert await flows.emulator.deliver_incoming_call(event) == 200
    want = {"menu": "recognize", "ring": "addParticipant", "queue": "hold", "voicemail": "startRecording"}[step]
    call_id = None
    for _ in range(400):
        if call_id is None:
            status, listing = await flows.get("/api/calls?limit=20")
            found = [c for c in listing["calls"] if c["correlationId"] == event["data"]["correlationId"]]
            call_id = found[0]["id"] if found else None
            await asyncio.sleep(0.01)
            continue
        status, call = await flows.get(f"/api/calls/{call_id}")
        if any(o["action"] == want and (o.get("invitationId") or o.get("acceptedAt") or o["status"] != "pending")
               for o in plan_ops(call, want)):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail(f"the call never reached its {step} step: {call.get('planState')}")
    flows.emulator.hang_up(call["callConnectionId"])
    call = await settle(flows, event)
    assert call["state"] == "disconnected" and call["planState"]["phase"] == "done"
    assert call["planState"]["outcome"] == "caller hung up"
    assert not [o for o in call["operations"] if o["source"] == "plan" and o["status"] == "pending"
                and o["action"] != "startRecording"]
    assert not plan_ops(call, "hangUp")  # nothing left to hang up: the call ended with the caller


async def test_a_simultaneous_ring_sends_its_invitations_at_once_and_records_them_in_one_write(flows, monkeypatch):
    import asyncio

    from shared.bootstrap import get_services

    services = await get_services()
    both_in_flight = asyncio.Barrier(2)
    send, save = services.control.add_participant, services.store.save
    saved = []

    async def add_participant(*args, **kwargs):
        # Passes only when both invitations are out at the same moment; one after another would time out here.
        await asyncio.wait_for(both_in_flight.wait(), timeout=10)
        return await send(*args, **kwargs)

    async def recording_save(call, etag, events):
        saved.append([op for op in call.operations if op.action == "addParticipant"])
        return await save(call, etag, events)

    monkeypatch.setattr(services.control, "add_participant", add_participant)
    monkeypatch.setattr(services.store, "save", recording_save)
    flows.emulator.script_target(SALES_1, "answer")
    flows.emulator.script_target(SALES_2, "no-answer")
    _, call = await dial(flows, "+14255550330", keys=["1"])
    assert len(plan_ops(call, "addParticipant")) == 2 and call["planState"]["winner"] == SALES_1
    first = next(ops for ops in saved if any(op.accepted_at for op in ops))
    assert len(first) == 2 and all(op.accepted_at and op.invitation_id for op in first)


async def test_a_malformed_recording_event_is_logged_and_refused_without_an_error(flows, caplog):
    from tests.payloads import load_event

    event = load_event("eventgrid_recording_file_status_updated")[0]
    event["subject"] = "/recording/call/x\nFORGED"
    await registered("recording_file_status")(eventgrid_event(event))
    [line] = [r.getMessage() for r in caplog.records if "RecordingFileStatusUpdated" in r.getMessage()]
    assert "refused" in line and "subject" in line and "\n" not in line
