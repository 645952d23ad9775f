"""Microsoft.Communication.RecordingFileStatusUpdated (Event Grid): a recording's file is ready. Parsed once at the
edge into a typed event; `voicemail_entry` is what a call and the voicemail list keep of it. Pure.

The event names its call only by server call id, in its subject (`/recording/call/{callId}/serverCallId/{id}`,
per the ACS call-recording docs); its data holds the file's chunks (`recordingStorageInfo.recordingChunks`:
documentId, contentLocation, metadataLocation, deleteLocation, index, endReason), the start time and the
duration in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from shared.domain.events import parse_time
from shared.errors import ValidationError

RECORDING_FILE_STATUS_UPDATED = "Microsoft.Communication.RecordingFileStatusUpdated"
_MAX_TEXT = 2048


@dataclass(frozen=True)
class RecordingFileReady:
    event_id: str
    server_call_id: str
    content_location: str
    metadata_location: str | None
    document_id: str | None
    duration_ms: int | None
    start_time: datetime | None
    session_end_reason: str | None


def _text(data: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{where}.{key} is missing", field=f"{where}.{key}")
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValidationError(f"{where}.{key} must be a string of at most {_MAX_TEXT} characters",
                              field=f"{where}.{key}")
    return value


def parse_recording_file_status(event_id: Any, subject: Any, data: Any) -> RecordingFileReady:
    """The event's call (server call id, from the subject) and its first chunk; ValidationError naming the field."""
    if not isinstance(event_id, str) or not event_id or len(event_id) > 256:
        raise ValidationError("event id is missing", field="id")
    if not isinstance(subject, str) or "/serverCallId/" not in subject or len(subject) > _MAX_TEXT:
        raise ValidationError("subject must be /recording/call/{callId}/serverCallId/{serverCallId}", field="subject")
    server_call_id = subject.rsplit("/serverCallId/", 1)[1]
    if not server_call_id or "/" in server_call_id:
        raise ValidationError("subject names no server call id", field="subject")
    if not isinstance(data, Mapping):
        raise ValidationError("data must be an object", field="data")
    info = data.get("recordingStorageInfo")
    chunks = info.get("recordingChunks") if isinstance(info, Mapping) else None
    if not isinstance(chunks, list) or not chunks or not all(isinstance(c, Mapping) for c in chunks):
        raise ValidationError("data.recordingStorageInfo.recordingChunks must be a non-empty array of chunks",
                              field="data.recordingStorageInfo.recordingChunks")
    first = min(chunks, key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0)
    where = "data.recordingStorageInfo.recordingChunks[0]"
    duration = data.get("recordingDurationMs")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or duration < 0):
        raise ValidationError("data.recordingDurationMs must be a whole number of milliseconds",
                              field="data.recordingDurationMs")
    start = data.get("recordingStartTime")
    return RecordingFileReady(
        event_id=event_id, server_call_id=server_call_id,
        content_location=_text(first, "contentLocation", where, required=True),
        metadata_location=_text(first, "metadataLocation", where), document_id=_text(first, "documentId", where),
        duration_ms=duration, start_time=parse_time(start, "data.recordingStartTime") if start else None,
        session_end_reason=_text(data, "sessionEndReason", "data"),
    )


def voicemail_entry(call: Any, ready: RecordingFileReady, recording_id: str, now: datetime) -> dict[str, Any]:
    """What a call and the voicemail list keep of a voicemail: whole numbers, the caller in full (the API's view)."""
    return {
        "callId": call.id, "from": call.from_, "to": call.to, "recordingId": recording_id,
        "contentLocation": ready.content_location, "metadataLocation": ready.metadata_location,
        "durationMs": ready.duration_ms,
        "recordingStartTime": ready.start_time.isoformat() if ready.start_time else None,
        "recordedAt": now.isoformat(),
    }
