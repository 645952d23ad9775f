"""Voicemails: a recording's file is ready (RecordingFileStatusUpdated, Event Grid), recorded on its call and in the
voicemail list; and the list itself, newest first."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.bootstrap import Services
from shared.domain import operations as ops
from shared.domain.call import Call
from shared.domain.identifiers import mask
from shared.domain.recordings import RecordingFileReady, voicemail_entry
from shared.handlers.core import update

log = logging.getLogger("callsteer")


async def on_recording_file_status(services: Services, ready: RecordingFileReady) -> dict[str, Any] | None:
    """Record a voicemail's file on its call and in the list; a recording this app did not start is logged and
    left alone. A redelivered event writes the same values again."""
    call_id = await services.voicemails.call_for(ready.server_call_id)
    if call_id is None:
        log.info("RecordingFileStatusUpdated %s: no call of this app recorded it; ignored", ready.event_id)
        return None
    entry: dict[str, Any] = {}

    def mutate(call: Call, now: datetime) -> Call:
        recording = next((op for op in reversed(call.operations)
                          if op.action == ops.START_RECORDING and op.recording_id), None)
        if recording is None:
            return call
        known = (call.plan_state or {}).get("voicemail")
        entry.update(voicemail_entry(call, ready, recording.recording_id, now)
                     if not known or known.get("contentLocation") != ready.content_location else known)
        state = dict(call.plan_state or {})
        if not known:
            path = list(state.get("path", []))
            path.append({"kind": "voicemail", "recordingId": recording.recording_id, "durationMs": ready.duration_ms})
            state["path"] = path[-40:]
        state["voicemail"] = entry
        return replace(call, plan_state=state, updated_at=now)

    call, _ = await update(services, call_id, mutate)
    if not entry:
        log.info("RecordingFileStatusUpdated %s: call %s started no recording; ignored", ready.event_id, call_id)
        return None
    # Listed by when its call began, the time the call itself is kept by: both expire in the same retention run.
    await services.voicemails.add(entry, call.started_at)
    log.info("voicemail recorded: call=%s from=%s duration_ms=%s", call.id, mask(call.from_), ready.duration_ms)
    return entry


async def list_voicemails(services: Services, limit: int) -> list[dict[str, Any]]:
    """Voicemails, newest first, with the caller in full (the API is behind the function key)."""
    return await services.voicemails.newest(limit)
