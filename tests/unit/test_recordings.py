"""RecordingFileStatusUpdated parsed at the edge (shape: the ACS call-recording docs' notification schema)."""

import copy

import pytest

from shared.domain.recordings import parse_recording_file_status
from shared.errors import ValidationError
from tests.payloads import load_event

EVENT = load_event("eventgrid_recording_file_status_updated")[0]


def parse(event):
    return parse_recording_file_status(event["id"], event["subject"], event["data"])


def test_the_file_its_call_and_its_duration_are_read():
    ready = parse(EVENT)
    assert ready.server_call_id == "aHR0cHM6Ly9hcGkuZXhhbXBsZS50ZXN0L2NvbnYvc2VydmVyLWNhbGwtMQ"
    assert ready.content_location.endswith("/audio.wav") and ready.duration_ms == 41526
    assert ready.start_time.isoformat() == "2026-11-24T14:04:21+00:00" and ready.session_end_reason == "CallEnded"


@pytest.mark.parametrize("change, field", [
    (lambda e: e.update(subject="/recording/call/x"), "subject"),
    (lambda e: e.update(subject="/recording/call/x/serverCallId/"), "subject"),
    (lambda e: e["data"].pop("recordingStorageInfo"), "data.recordingStorageInfo.recordingChunks"),
    (lambda e: e["data"]["recordingStorageInfo"].update(recordingChunks=[]), "data.recordingStorageInfo.recordingChunks"),
    (lambda e: e["data"]["recordingStorageInfo"]["recordingChunks"][0].pop("contentLocation"), "contentLocation"),
    (lambda e: e["data"].update(recordingDurationMs=-1), "data.recordingDurationMs"),
    (lambda e: e["data"].update(recordingDurationMs="41526"), "data.recordingDurationMs"),
    (lambda e: e["data"].update(recordingStartTime="yesterday"), "data.recordingStartTime"),
])
def test_a_malformed_event_is_refused_naming_the_field(change, field):
    event = copy.deepcopy(EVENT)
    change(event)
    with pytest.raises(ValidationError) as caught:
        parse(event)
    assert field in (caught.value.field or "")
