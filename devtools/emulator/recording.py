"""Call recording: start (into the operator's Blob container), stop, properties, and the events that follow.

StartRecording answers 200 with a RecordingStateResponse (state inactive until the media flows), then
RecordingStateChanged (state active) goes to recordingStateCallbackUri, shaped like
../shared/acs-recordings/start_recording.json (source calling/recordings/..., data with recordingId, state,
startDateTime, recordingKind). Stop answers 204, then RecordingStateChanged (inactive). A recording also ends
with its call. Once it has ended, Microsoft.Communication.RecordingFileStatusUpdated is published through
Event Grid (to the app's `recording_file_status` function), in the schema of the ACS call-recording docs
(subject /recording/call/{callId}/serverCallId/{serverCallId}; data.recordingStorageInfo.recordingChunks with
documentId, index, endReason, contentLocation, metadataLocation, deleteLocation; recordingStartTime,
recordingDurationMs, recordingContentType/ChannelType/FormatType, sessionEndReason).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .errors import bad_request, not_found
from .events import EVENT_PREFIX, ResultInformation
from .model import CallConnection
from .spec_bodies import validate

if TYPE_CHECKING:
    from .engine import CallEngine, Reply

RECORDING_FILE_STATUS_UPDATED = EVENT_PREFIX + "RecordingFileStatusUpdated"
STATE_OK = ResultInformation(200, 0, "")
# How long after a recording ends its file is published (the docs: "typically a few minutes"; scaled).
FILE_READY_S = 1.0


@dataclass
class Recording:
    id: str
    call: CallConnection
    callback_url: str
    container_url: str | None
    content_type: str
    channel_type: str
    format_type: str
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    active: bool = True
    ended: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"recordingId": self.id, "recordingState": "active" if self.active else "inactive",
                "recordingKind": "azureCommunicationServices", "callConnectionId": self.call.id,
                "containerUrl": self.container_url}


class Recordings:
    """Every recording the emulator started, by id."""

    def __init__(self, engine: CallEngine, publish: Callable[[dict[str, Any]], Awaitable[int | None]],
                 resource_topic: str) -> None:
        self._engine = engine
        self._publish = publish
        self._topic = resource_topic
        self.recordings: dict[str, Recording] = {}
        self.published: list[dict[str, Any]] = []

    def start(self, payload: Any) -> Reply:
        from .engine import Reply

        body = validate(payload, "StartCallRecordingRequest")
        if (body.get("callLocator") is None) == (body.get("callConnectionId") is None):
            raise bad_request("Give exactly one of callLocator and callConnectionId.")
        call = self._call(body)
        callback = body.get("recordingStateCallbackUri") or call.callback_uri
        storage = body.get("externalStorage")
        container = None
        if storage and storage["recordingStorageKind"].lower() == "azureblobstorage":
            container = storage.get("recordingDestinationContainerUrl")
            if not container or not container.startswith(("https://", "http://")):
                raise bad_request("externalStorage.recordingDestinationContainerUrl is required for azureBlobStorage "
                                  "and must be an absolute URL.")
        if any(r.active and r.call is call for r in self.recordings.values()):
            raise bad_request("The call is already being recorded.")
        recording_id = base64.urlsafe_b64encode(json.dumps(
            {"PlatformEndpointId": call.id, "ResourceSpecificId": str(uuid.uuid4())}).encode()).decode().rstrip("=")
        recording = Recording(recording_id, call, callback, container, body.get("recordingContentType", "audio"),
                              body.get("recordingChannelType", "mixed"), body.get("recordingFormatType", "wav"))
        self.recordings[recording_id] = recording

        async def run() -> None:
            if call.is_active and recording.active:
                self._state_changed(recording, "active")

        return Reply(200, {"recordingId": recording_id, "recordingState": "inactive",
                           "recordingKind": "azureCommunicationServices"}, (run,))

    def get(self, recording_id: str) -> Reply:
        from .engine import Reply

        recording = self._recording(recording_id)
        return Reply(200, {"recordingId": recording.id, "recordingState": "active" if recording.active else "inactive",
                           "recordingKind": "azureCommunicationServices"})

    def stop(self, recording_id: str) -> Reply:
        from .engine import Reply

        recording = self._recording(recording_id)
        if not recording.active:
            raise not_found(f"Recording {recording_id} is not active.")
        self._end(recording)

        async def run() -> None:
            if recording.call.is_active:
                self._state_changed(recording, "inactive")
            await self._file_ready(recording, "SessionEnded")

        return Reply(204, None, (run,))

    def call_ended(self, call: CallConnection) -> list[Callable[[], Awaitable[None]]]:
        """A call ended: its recording ends with it; the file follows."""
        effects = []
        for recording in self.recordings.values():
            if recording.call is call and recording.active:
                self._end(recording)
                effects.append(lambda r=recording: self._file_ready(r, "CallEnded"))
        return effects

    # ---- helpers ------------------------------------------------------------------------------

    def _call(self, body: dict[str, Any]) -> CallConnection:
        if body.get("callConnectionId"):
            return self._engine._active_call(body["callConnectionId"])
        locator = body["callLocator"]
        server_call_id = locator.get("serverCallId")
        for call in self._engine.calls.values():
            if server_call_id and call.server_call_id == server_call_id and call.is_active:
                return call
        raise not_found("No active call for the call locator.")

    def _recording(self, recording_id: str) -> Recording:
        recording = self.recordings.get(recording_id)
        if recording is None:
            raise not_found(f"Recording {recording_id} was not found.")
        return recording

    @staticmethod
    def _end(recording: Recording) -> None:
        recording.active = False
        recording.ended = datetime.now(timezone.utc)

    def _state_changed(self, recording: Recording, state: str) -> None:
        call = recording.call
        self._engine._emit(call, "RecordingStateChanged", STATE_OK, url=recording.callback_url,
                           recordingId=recording.id, state=state, startDateTime=recording.started.isoformat(),
                           recordingKind="azureCommunicationServices")

    async def _file_ready(self, recording: Recording, reason: str) -> None:
        await self._engine._sleep(FILE_READY_S)
        event = self.file_status_event(recording, reason)
        self.published.append(event)
        await self._publish(event)

    def file_status_event(self, recording: Recording, reason: str) -> dict[str, Any]:
        call = recording.call
        document_id = str(uuid.uuid4())
        started, ended = recording.started, recording.ended or datetime.now(timezone.utc)
        # Where the file is: in the operator's container when one was given (the emulator's path layout),
        # else under the service's own recording download URL, as the docs show.
        base = recording.container_url or "https://storage.asm.skype.com/v1/objects"
        chunk = {
            "documentId": document_id, "index": 0, "endReason": "SessionEnded",
            "contentLocation": f"{base}/{started:%Y%m%d}/{call.server_call_id[:32]}/{document_id}/audio.{recording.format_type}",
            "metadataLocation": f"{base}/{started:%Y%m%d}/{call.server_call_id[:32]}/{document_id}/metadata.json",
            "deleteLocation": f"{base}/{started:%Y%m%d}/{call.server_call_id[:32]}/{document_id}",
        }
        return {
            "id": str(uuid.uuid4()),
            "topic": self._topic,
            "subject": f"/recording/call/{call.correlation_id}/serverCallId/{call.server_call_id}",
            "data": {
                "recordingStorageInfo": {"recordingChunks": [chunk]},
                "recordingStartTime": started.isoformat(),
                # On the emulator's scaled clock: a recording that ran 1.2 s at time_scale 0.01 lasted 120 s.
                "recordingDurationMs": int((ended - started).total_seconds() * 1000 / self._engine.time_scale),
                "recordingContentType": recording.content_type,
                "recordingChannelType": recording.channel_type,
                "recordingFormatType": recording.format_type,
                "sessionEndReason": reason,
            },
            "eventType": RECORDING_FILE_STATUS_UPDATED,
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "eventTime": datetime.now(timezone.utc).isoformat(),
        }
