"""The emulator's media and recording operations, driven by the real SDK: play, recognize, hold and unhold,
start and stop recording, the events that follow (shaped like ../shared/acs-recordings), and refusals of
anything the spec's request schemas do not allow."""

import json
from pathlib import Path

import pytest
from azure.communication.callautomation import (
    AzureBlobContainerRecordingStorage, FileSource, PhoneNumberIdentifier, RecordingChannel, RecordingContent,
    RecordingFormat,
)
from azure.core.exceptions import HttpResponseError

from devtools.emulator.spec_bodies import SCHEMAS

CALLER = "+14255550123"
WELCOME = "https://media.example.com/welcome.wav"
ROOT = Path(__file__).resolve().parents[2]


def reference(*parts):
    """A file of the read-only reference folder beside the project (../shared, or ../../shared for a worktree)."""
    for base in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (base / parts[0]).is_dir():
            return base.joinpath(*parts)
    raise AssertionError("the reference folder shared/ (acs-spec, acs-recordings) is not beside the project")


def test_the_request_schemas_are_the_specs_own():
    spec = json.loads(reference("acs-spec", "communicationservicescallautomation.json").read_text())["definitions"]
    for name, schema in SCHEMAS.items():
        definition = spec[name]
        assert definition.get("additionalProperties") is False, name
        assert set(schema["properties"]) == set(definition["properties"]), name
        assert sorted(schema["required"]) == sorted(definition.get("required", [])), name
        for key, rule in schema["properties"].items():
            wire = definition["properties"][key]
            target = spec[wire["$ref"].rsplit("/", 1)[1]] if "$ref" in wire and "common.json" not in wire["$ref"] else wire
            if "enum" in rule:
                assert rule["enum"] == target["enum"], (name, key)
            if "minimum" in rule or "maximum" in rule:
                assert (rule.get("minimum"), rule.get("maximum")) == (target.get("minimum"), target.get("maximum"))
            if "ref" in rule:
                assert wire["$ref"].endswith("/" + rule["ref"]), (name, key)


def the_recorded(name, event_type):
    data = json.loads(reference("acs-recordings", name).read_text())[event_type]
    return data[0] if isinstance(data, list) else data


@pytest.mark.asyncio
async def test_play_answers_202_then_play_completed_as_recorded(emu, client, receiver, answered):
    call_id = await answered()
    await client.get_call_connection(call_id).play_media(FileSource(WELCOME), operation_context="greet")
    await emu.idle()
    event = receiver.event("PlayCompleted")
    recorded = the_recorded("play_media.json", "PlayCompleted")
    assert event["data"]["resultInformation"] == recorded["data"]["resultInformation"]
    assert event["data"]["operationContext"] == "greet"
    assert set(recorded["data"]) - {"operationContext"} <= set(event["data"])


@pytest.mark.asyncio
async def test_a_file_that_cannot_play_gives_play_failed_as_recorded(emu, client, receiver, answered):
    call_id = await answered()
    emu.script_media(WELCOME, "invalid")
    await client.get_call_connection(call_id).play_media(FileSource(WELCOME), operation_context="greet")
    await emu.idle()
    event = receiver.event("PlayFailed")
    recorded = the_recorded("play_invalid_file_source.json", "PlayFailed")
    assert event["data"]["resultInformation"] == recorded["data"]["resultInformation"]
    assert event["data"]["failedPlaySourceIndex"] == 0


@pytest.mark.asyncio
async def test_recognize_reports_the_scripted_key_as_a_tone_word(emu, client, receiver, answered):
    call_id = await answered()
    emu.script_keys(CALLER, ["#"])
    await client.get_call_connection(call_id).start_recognizing_media(
        "dtmf", PhoneNumberIdentifier(CALLER), play_prompt=FileSource(WELCOME), interrupt_prompt=True,
        initial_silence_timeout=5, dtmf_max_tones_to_collect=1, operation_context="menu")
    await emu.idle()
    event = receiver.event("RecognizeCompleted")
    assert event["data"]["dtmfResult"] == {"tones": ["pound"]} and event["data"]["recognitionType"] == "dtmf"


@pytest.mark.asyncio
async def test_recognize_without_a_key_fails_with_the_silence_timeout(emu, client, receiver, answered):
    call_id = await answered()
    await client.get_call_connection(call_id).start_recognizing_media(
        "dtmf", PhoneNumberIdentifier(CALLER), initial_silence_timeout=2, operation_context="menu")
    await emu.idle()
    event = receiver.event("RecognizeFailed")
    assert event["data"]["resultInformation"]["subCode"] == 8510


@pytest.mark.asyncio
async def test_hold_puts_the_participant_on_hold_and_unhold_takes_them_off(emu, client, receiver, answered):
    call_id = await answered()
    connection = client.get_call_connection(call_id)
    await connection.hold(PhoneNumberIdentifier(CALLER), play_source=FileSource(WELCOME), operation_context="q")
    await emu.idle()
    held = [e for e in receiver.events() if e["type"].endswith("ParticipantsUpdated")][-1]
    assert [p["isOnHold"] for p in held["data"]["participants"]] == [True]
    await connection.unhold(PhoneNumberIdentifier(CALLER), operation_context="q")
    await emu.idle()
    released = [e for e in receiver.events() if e["type"].endswith("ParticipantsUpdated")][-1]
    assert [p["isOnHold"] for p in released["data"]["participants"]] == [False]
    with pytest.raises(HttpResponseError) as caught:
        await connection.unhold(PhoneNumberIdentifier(CALLER))
    assert caught.value.status_code == 400


@pytest.mark.asyncio
async def test_recording_starts_stops_and_publishes_its_file_through_event_grid(emu, client, receiver, answered):
    call_id = await answered()
    container = "https://example.blob.core.windows.net/recordings"
    props = await client.start_recording(
        call_connection_id=call_id, recording_state_callback_url=receiver.callback_url(),
        recording_content_type=RecordingContent.AUDIO, recording_channel_type=RecordingChannel.MIXED,
        recording_format_type=RecordingFormat.WAV, recording_storage=AzureBlobContainerRecordingStorage(container))
    await emu.idle()
    active = receiver.event("RecordingStateChanged")
    recorded = the_recorded("start_recording.json", "RecordingStateChanged")
    assert active["data"]["recordingId"] == props.recording_id and active["data"]["state"] == "active"
    assert set(recorded["data"]) - {"eventSource"} <= set(active["data"])
    await client.stop_recording(props.recording_id)
    await emu.idle()
    [published] = [r for r in receiver.received if r.query.get("functionName") == "recording_file_status"]
    event = published.body[0]
    assert event["eventType"] == "Microsoft.Communication.RecordingFileStatusUpdated"
    assert event["subject"].endswith("/serverCallId/" + emu.call(call_id).server_call_id)
    [chunk] = event["data"]["recordingStorageInfo"]["recordingChunks"]
    assert chunk["contentLocation"].startswith(container) and event["data"]["recordingFormatType"] == "wav"
    with pytest.raises(HttpResponseError) as caught:
        await client.stop_recording(props.recording_id)
    assert caught.value.status_code == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("path, body, field", [
    (":play", {"playSources": [{"kind": "file", "file": {"uri": WELCOME}}], "loudness": 3}, "loudness"),
    (":play", {"playSources": [{"kind": "file", "file": {}}]}, "uri"),
    (":play", {"playSources": [{"kind": "video", "file": {"uri": WELCOME}}]}, "kind"),
    (":recognize", {"recognizeInputType": "dtmf", "recognizeOptions": {
        "targetParticipant": {"rawId": "4:" + CALLER}, "initialSilenceTimeoutInSeconds": 301}},
     "initialSilenceTimeoutInSeconds"),
    (":recognize", {"recognizeInputType": "dtmf", "recognizeOptions": {}}, "targetParticipant"),
    (":recognize", {"recognizeInputType": "dtmf", "recognizeOptions": {
        "targetParticipant": {"rawId": "4:" + CALLER}, "dtmfOptions": {"stopTones": ["hash"]}}}, "stopTones"),
    (":hold", {"targetParticipant": {"rawId": "4:" + CALLER}, "music": "x"}, "music"),
])
async def test_requests_the_spec_does_not_allow_are_refused_naming_the_field(emu, raw, answered, path, body, field):
    call_id = await answered()
    status, _, error = await raw("POST", f"/calling/callConnections/{call_id}{path}?api-version=2026-03-12", body)
    assert status == 400 and field in error["error"]["message"]


@pytest.mark.asyncio
async def test_start_recording_needs_exactly_one_call_reference(emu, raw, answered):
    call_id = await answered()
    status, _, error = await raw("POST", "/calling/recordings?api-version=2026-03-12",
                                 {"callConnectionId": call_id, "callLocator": {"serverCallId": "x"}})
    assert status == 400
    status, _, error = await raw("POST", "/calling/recordings?api-version=2026-03-12",
                                 {"callConnectionId": call_id, "recordingFormatType": "ogg"})
    assert status == 400 and "recordingFormatType" in error["error"]["message"]
