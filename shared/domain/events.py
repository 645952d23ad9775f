"""Typed events, parsed once at the edge: IncomingCall (Event Grid) and the Call Automation callbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from shared.domain.identifiers import Identifier, identifier_from_model
from shared.errors import ValidationError

INCOMING_CALL = "Microsoft.Communication.IncomingCall"
_ACS_PREFIX = "Microsoft.Communication."
_MAX_ID = 256


def _str(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{where}.{key} is missing", field=f"{where}.{key}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{where}.{key} must be a string", field=f"{where}.{key}")
    if len(value) > _MAX_ID and key != "incomingCallContext":
        raise ValidationError(f"{where}.{key} is longer than {_MAX_ID} characters", field=f"{where}.{key}")
    return value


def _headers(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError(f"{where} must be an object of string values", field=where)
    return dict(value)


def parse_time(value: Any, where: str) -> datetime:
    """Parse an ISO 8601 time (ACS writes up to 7 fractional digits); naive times are taken as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where} must be an ISO 8601 time", field=where)
    text = value.strip().replace("Z", "+00:00")
    # Python 3.11 reads at most 6 fractional digits: cut the 7th that .NET writes.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{where} must be an ISO 8601 time", field=where) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class IncomingCall:
    """Microsoft.Communication.IncomingCall: a call is ringing and waits for answer, reject or redirect."""

    event_id: str
    event_time: datetime
    to: Identifier
    from_: Identifier
    server_call_id: str
    correlation_id: str
    incoming_call_context: str = field(repr=False)
    caller_display_name: str | None = None
    sip_headers: dict[str, str] = field(default_factory=dict)
    voip_headers: dict[str, str] = field(default_factory=dict)

    @property
    def custom_headers(self) -> dict[str, str]:
        """SIP and VoIP custom headers together, as routing rules match them."""
        return {**self.voip_headers, **self.sip_headers}


def parse_incoming_call(event_id: Any, event_time: Any, data: Any) -> IncomingCall:
    """Build an IncomingCall from an Event Grid event's id, time and data."""
    if not isinstance(event_id, str) or not event_id:
        raise ValidationError("event id is missing", field="id")
    if not isinstance(data, Mapping):
        raise ValidationError("data must be an object", field="data")
    custom = data.get("customContext") or {}
    if not isinstance(custom, Mapping):
        raise ValidationError("data.customContext must be an object", field="data.customContext")
    return IncomingCall(
        event_id=event_id,
        event_time=parse_time(event_time, "eventTime"),
        to=identifier_from_model(data.get("to"), "data.to"),
        from_=identifier_from_model(data.get("from"), "data.from"),
        server_call_id=_str(data, "serverCallId", "data"),
        correlation_id=_str(data, "correlationId", "data"),
        incoming_call_context=_str(data, "incomingCallContext", "data"),
        caller_display_name=_str(data, "callerDisplayName", "data", required=False),
        sip_headers=_headers(custom.get("sipHeaders"), "data.customContext.sipHeaders"),
        voip_headers=_headers(custom.get("voipHeaders"), "data.customContext.voipHeaders"),
    )


@dataclass(frozen=True)
class ResultInformation:
    """The outcome ACS reports for an action: code (HTTP-like), subCode and message."""

    code: int | None
    sub_code: int | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "subCode": self.sub_code, "message": self.message}


@dataclass(frozen=True)
class CallEvent:
    """A Call Automation callback event; subclasses carry what is particular to each type.

    Subclasses without fields of their own are plain subclasses: they inherit the frozen dataclass's
    methods (which use the runtime class), and skipping the decorator keeps the cold start shorter.
    """

    id: str
    type: str
    time: datetime
    call_connection_id: str
    server_call_id: str | None
    correlation_id: str | None
    operation_context: str | None
    result: ResultInformation | None

    @property
    def name(self) -> str:
        """The short event name, such as CallConnected."""
        return self.type.removeprefix(_ACS_PREFIX)


class CallConnected(CallEvent):
    pass


class CallDisconnected(CallEvent):
    pass


@dataclass(frozen=True)
class ParticipantsUpdated(CallEvent):
    participants: tuple[Identifier, ...] = ()
    sequence_number: int | None = None


class AnswerFailed(CallEvent):
    pass


class CreateCallFailed(CallEvent):
    pass


class ConnectFailed(CallEvent):
    pass


@dataclass(frozen=True)
class ParticipantResult(CallEvent):
    """The result of adding or removing one participant."""

    participant: Identifier | None = None


class AddParticipantSucceeded(ParticipantResult):
    pass


class AddParticipantFailed(ParticipantResult):
    pass


class RemoveParticipantSucceeded(ParticipantResult):
    pass


class RemoveParticipantFailed(ParticipantResult):
    pass


@dataclass(frozen=True)
class InvitationResult(CallEvent):
    """The result of cancelling one invitation."""

    invitation_id: str | None = None


class CancelAddParticipantSucceeded(InvitationResult):
    pass


class CancelAddParticipantFailed(InvitationResult):
    pass


@dataclass(frozen=True)
class CallTransferAccepted(CallEvent):
    transfer_target: Identifier | None = None
    transferee: Identifier | None = None


class CallTransferFailed(CallEvent):
    pass


class PlayCompleted(CallEvent):
    pass


@dataclass(frozen=True)
class PlayFailed(CallEvent):
    failed_play_source_index: int | None = None


class PlayCanceled(CallEvent):
    pass


# The spec's Tone enum, as the SDK and the service spell the keys of a phone.
TONES = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
         "eight": "8", "nine": "9", "pound": "#", "asterisk": "*", "a": "A", "b": "B", "c": "C", "d": "D"}


@dataclass(frozen=True)
class RecognizeCompleted(CallEvent):
    """DTMF collected: `digits` are the keys pressed (tones mapped from the service's words: one -> 1, pound -> #)."""

    digits: str = ""


@dataclass(frozen=True)
class RecognizeFailed(CallEvent):
    failed_play_source_index: int | None = None


class RecognizeCanceled(CallEvent):
    pass


class HoldFailed(CallEvent):
    pass


@dataclass(frozen=True)
class RecordingStateChanged(CallEvent):
    recording_id: str | None = None
    recording_state: str | None = None


class StartRecordingFailed(CallEvent):
    pass


class UnknownEvent(CallEvent):
    """An event type the app does not handle: recorded in the call's log and otherwise skipped."""


_TYPES: dict[str, type[CallEvent]] = {
    cls.__name__: cls
    for cls in (
        CallConnected, CallDisconnected, ParticipantsUpdated, AnswerFailed, CreateCallFailed, ConnectFailed,
        AddParticipantSucceeded, AddParticipantFailed, CancelAddParticipantSucceeded, CancelAddParticipantFailed,
        RemoveParticipantSucceeded, RemoveParticipantFailed, CallTransferAccepted, CallTransferFailed,
        PlayCompleted, PlayFailed, PlayCanceled, RecognizeCompleted, RecognizeFailed, RecognizeCanceled, HoldFailed,
        RecordingStateChanged, StartRecordingFailed,
    )
}
HANDLED_EVENT_NAMES = tuple(_TYPES)


def _result(value: Any, where: str) -> ResultInformation | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be an object", field=where)
    code, sub_code, message = value.get("code"), value.get("subCode"), value.get("message")
    for key, item in (("code", code), ("subCode", sub_code)):
        if item is not None and (not isinstance(item, int) or isinstance(item, bool)):
            raise ValidationError(f"{where}.{key} must be an integer", field=f"{where}.{key}")
    if message is not None and not isinstance(message, str):
        raise ValidationError(f"{where}.message must be a string", field=f"{where}.message")
    return ResultInformation(code, sub_code, message)


def _optional_identifier(data: Mapping[str, Any], key: str, where: str) -> Identifier | None:
    value = data.get(key)
    return None if value is None else identifier_from_model(value, f"{where}.{key}")


def _participants(data: Mapping[str, Any], where: str) -> tuple[Identifier, ...]:
    items = data.get("participants")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValidationError(f"{where}.participants must be an array", field=f"{where}.participants")
    parsed = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError(f"{where}.participants[{i}] must be an object", field=f"{where}.participants[{i}]")
        parsed.append(identifier_from_model(item.get("identifier"), f"{where}.participants[{i}].identifier"))
    return tuple(parsed)


def _sequence_number(data: Mapping[str, Any], where: str) -> int | None:
    value = data.get("sequenceNumber")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValidationError(f"{where}.sequenceNumber must be an integer", field=f"{where}.sequenceNumber")
    return value


def _index(data: Mapping[str, Any], where: str) -> int | None:
    value = data.get("failedPlaySourceIndex")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1000):
        raise ValidationError(f"{where}.failedPlaySourceIndex must be a small integer",
                              field=f"{where}.failedPlaySourceIndex")
    return value


def _digits(data: Mapping[str, Any], where: str) -> str:
    result = data.get("dtmfResult")
    if result is None:
        return ""
    tones = result.get("tones") if isinstance(result, Mapping) else None
    if not isinstance(tones, list) or len(tones) > 64:
        raise ValidationError(f"{where}.dtmfResult.tones must be an array of tones", field=f"{where}.dtmfResult.tones")
    digits = []
    for i, tone in enumerate(tones):
        digit = TONES.get(tone.lower()) if isinstance(tone, str) else None
        if digit is None:
            raise ValidationError(f"{where}.dtmfResult.tones[{i}] is not a DTMF tone ({', '.join(TONES)})",
                                  field=f"{where}.dtmfResult.tones[{i}]")
        digits.append(digit)
    return "".join(digits)


def parse_callback_event(raw: Any, index: int) -> CallEvent:
    """Parse one CloudEvent of a callback body; unknown keys are ignored, unknown types kept as UnknownEvent."""
    where = f"[{index}]"
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be a CloudEvent object", field=where)
    event_id = _str(raw, "id", where)
    event_type = _str(raw, "type", where)
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise ValidationError(f"{where}.data must be an object", field=f"{where}.data")
    dwhere = f"{where}.data"
    name = event_type.removeprefix(_ACS_PREFIX)
    cls = _TYPES.get(name, UnknownEvent) if event_type.startswith(_ACS_PREFIX) else UnknownEvent
    common = dict(
        id=event_id,
        type=event_type,
        time=parse_time(raw.get("time"), f"{where}.time") if raw.get("time") is not None else datetime.now(timezone.utc),
        call_connection_id=_str(data, "callConnectionId", dwhere),
        server_call_id=_str(data, "serverCallId", dwhere, required=False),
        correlation_id=_str(data, "correlationId", dwhere, required=False),
        operation_context=_str(data, "operationContext", dwhere, required=False),
        result=_result(data.get("resultInformation"), f"{dwhere}.resultInformation"),
    )
    if cls is ParticipantsUpdated:
        return cls(**common, participants=_participants(data, dwhere), sequence_number=_sequence_number(data, dwhere))
    if issubclass(cls, ParticipantResult):
        return cls(**common, participant=_optional_identifier(data, "participant", dwhere))
    if issubclass(cls, InvitationResult):
        return cls(**common, invitation_id=_str(data, "invitationId", dwhere, required=False))
    if cls in (PlayFailed, RecognizeFailed):
        return cls(**common, failed_play_source_index=_index(data, dwhere))
    if cls is RecognizeCompleted:
        return cls(**common, digits=_digits(data, dwhere))
    if cls is RecordingStateChanged:
        state = _str(data, "state", dwhere, required=False)
        return cls(**common, recording_id=_str(data, "recordingId", dwhere, required=False), recording_state=state)
    if cls is CallTransferAccepted:
        return cls(**common, transfer_target=_optional_identifier(data, "transferTarget", dwhere),
                   transferee=_optional_identifier(data, "transferee", dwhere))
    return cls(**common)


def decode_json(body: bytes) -> Any:
    """A request body's JSON, or ValidationError saying where it breaks."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not valid JSON: {exc}", field="body") from None
    except RecursionError:
        raise ValidationError("body is not valid JSON: nested too deeply", field="body") from None


def parse_callback_body(body: bytes) -> list[CallEvent]:
    """Parse a callback POST body: a JSON array of CloudEvents, every one valid, or ValidationError."""
    raw = decode_json(body)
    if not isinstance(raw, list):
        raise ValidationError("body must be a JSON array of CloudEvents", field="body")
    if not raw:
        raise ValidationError("body is an empty array: expected at least one CloudEvent", field="body")
    return [parse_callback_event(item, i) for i, item in enumerate(raw)]
