"""Builders for the events the emulator sends: callback CloudEvents and the Event Grid IncomingCall."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .identifiers import Identifier
from .model import CallConnection, Outcome

EVENT_PREFIX = "Microsoft.Communication."
INCOMING_CALL = EVENT_PREFIX + "IncomingCall"


@dataclass(frozen=True)
class ResultInformation:
    """The resultInformation of an event: a SIP-like code, a subCode and a message."""

    code: int
    sub_code: int
    message: str

    def to_model(self) -> dict[str, Any]:
        """The spec's ResultInformation."""
        return {"code": self.code, "subCode": self.sub_code, "message": self.message}


# Result codes. Where public ACS material shows a value it is used: CallTransferAccepted 200/7015
# (SDK test payloads), 603 decline, 486/560486 PSTN busy and 10004 for "no callee endpoint accepted
# on time" (ACS calling server codes table). The rest are the emulator's plausible picks: 200/0 for
# plain success, 408 for an invitation timeout, 404 for what cannot be found.
# CallConnected and ParticipantsUpdated carry 200/0 with an empty message (recordings play_invalid_file_source.json,
# create_call_answer_custom_context_hangup.json, start_recording.json).
CONNECTED = ResultInformation(200, 0, "")
PARTICIPANT_ADDED = ResultInformation(200, 0, "Participant added.")
PARTICIPANT_REMOVED = ResultInformation(200, 0, "Participant removed.")
PARTICIPANT_NOT_IN_CALL = ResultInformation(404, 0, "Participant is not in the call.")
ADD_CANCELLED = ResultInformation(200, 0, "Add participant cancelled.")
CANCEL_TOO_LATE = ResultInformation(400, 0, "The invitation already completed; nothing to cancel.")
CANCEL_UNKNOWN_INVITATION = ResultInformation(404, 0, "No invitation with that id in this call.")
TRANSFER_ACCEPTED = ResultInformation(200, 7015, "Transfer completed successfully.")
# The app ending the call: 200/7000 (recordings play_invalid_file_source.json, api 2026-03-12, and
# start_recording.json, create_call_answer_custom_context_hangup.json, 2024-09-01-preview).
ENDED_BY_APP = ResultInformation(
    200, 7000, "Call was ended by Azure Communication Service Call Automation API or a server bot. DiagCode: 0#7000.@")
TERMINATED_BY_APP = ENDED_BY_APP
ENDED_BY_TRANSFER = ResultInformation(200, 7015, "Call transferred; the application left the call.")
ENDED_BY_REMOTE = ResultInformation(200, 0, "Call ended by the remote participant.")
ENDED_BY_REMOTE_PSTN = ResultInformation(200, 560000, "Call ended by the remote PSTN participant.")
LOCATOR_NOT_FOUND = ResultInformation(404, 0, "No call found for the call locator.")
RING_FAILURES: dict[Outcome, ResultInformation] = {
    Outcome.NO_ANSWER: ResultInformation(408, 10004, "Not answered before the invitation timed out."),
    Outcome.BUSY: ResultInformation(486, 560486, "Callee is busy."),
    Outcome.DECLINE: ResultInformation(603, 0, "Callee declined the call."),
}


# Recorded with api-version 2024-09-01-preview and 2026-03-12, CallConnected, ParticipantsUpdated and CallDisconnected
# carry resultInformation; with 2023-10-03-preview, 2024-04-15 and 2024-06-15-preview none (create_call_answer_hangup,
# add_participant_then_cancel, play_media, dtmf_actions, hold_unhold, create_call_connect_hangup). None of them carries
# operationContext, whatever the request gave: the emulator leaves it out too, the stricter shape for the app.
RESULT_INFORMATION_SINCE = "2024-09-01"


def recorded_result(api_version: str, result: ResultInformation) -> ResultInformation | None:
    """The resultInformation of a call-state event as the service sent it for this api-version (None: left out)."""
    return result if api_version >= RESULT_INFORMATION_SINCE else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def cloud_event(call: CallConnection, name: str, api_version: str, result: ResultInformation | None = None,
                **data: Any) -> dict[str, Any]:
    """One Call Automation callback CloudEvent, data in the spec's camelCase plus the extra keys real events carry."""
    subject = f"calling/callConnections/{call.id}"
    body: dict[str, Any] = {
        "callConnectionId": call.id,
        "serverCallId": call.server_call_id,
        "correlationId": call.correlation_id,
    }
    if result is not None:
        body["resultInformation"] = result.to_model()
    body.update({key: value for key, value in data.items() if value is not None})
    # Real events carry these two keys although the spec lists neither.
    body["version"] = api_version
    body["publicEventType"] = EVENT_PREFIX + name
    return {
        "id": str(uuid.uuid4()),
        "source": subject,
        "type": EVENT_PREFIX + name,
        "data": body,
        "time": _now(),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": subject,
    }


def incoming_call_event(*, caller: Identifier, callee: Identifier, server_call_id: str, correlation_id: str,
                        incoming_call_context: str, caller_display_name: str | None, resource_topic: str,
                        sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None) -> dict[str, Any]:
    """One Event Grid (Event Grid schema) Microsoft.Communication.IncomingCall event."""
    data: dict[str, Any] = {
        "to": callee.to_model(),
        "from": caller.to_model(),
        "serverCallId": server_call_id,
        "callerDisplayName": caller_display_name or "",
        "customContext": {"sipHeaders": dict(sip_headers or {}), "voipHeaders": dict(voip_headers or {})},
        "incomingCallContext": incoming_call_context,
        "correlationId": correlation_id,
    }
    return {
        "id": str(uuid.uuid4()),
        "topic": resource_topic,
        "subject": f"/caller/{caller.raw_id}/recipient/{callee.raw_id}",
        "data": data,
        "eventType": INCOMING_CALL,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": _now(),
    }
