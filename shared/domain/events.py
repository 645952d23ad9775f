"""Typed events, parsed once at the edge: IncomingCall (Event Grid) and the Call Automation callbacks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from shared.domain.identifiers import (
    CALL_CONNECTION_ID, CORRELATION_ID, EVENT_ID, INVITATION_ID, RECORDING_ID, SERVER_CALL_ID, Identifier, WireIdRule,
    identifier_from_model, text_problem, wire_id,
)
from shared.errors import PayloadTooLarge, ValidationError

INCOMING_CALL = "Microsoft.Communication.IncomingCall"
_ACS_PREFIX = "Microsoft.Communication."

# Limits of what the edge accepts (README, "Guarantees and their limits"). Each keeps a call's record within
# Table Storage's limits (a string property holds at most 32K characters, a transaction at most 100 entities).
MAX_EVENTS_PER_BODY = 50
MAX_PARTICIPANTS = 350
MAX_PARTICIPANTS_CHARS = 30_000
MAX_MESSAGE = 2048
MAX_OPERATION_CONTEXT = 256
MAX_DISPLAY_NAME = 256
MAX_EVENT_TYPE = 256
MAX_INCOMING_CALL_CONTEXT = 65_536
MAX_HEADER_VALUE = 1024
MAX_HEADERS = 100
MAX_SEQUENCE_NUMBER = 2**31 - 1  # kept as a property of the call's row, a 32-bit integer in Table Storage
INT32 = (-(2**31), 2**31 - 1)
EVENT_TYPE = WireIdRule("event type", re.compile(r"[A-Za-z0-9_.:-]+"), MAX_EVENT_TYPE,
                        "ASCII letters, digits and - _ . :")


def _missing(value: Any) -> bool:
    return value is None or value == ""


def _id(data: Mapping[str, Any], key: str, where: str, rule: WireIdRule, required: bool = True) -> str | None:
    value = data.get(key)
    if _missing(value):
        if required:
            raise ValidationError(f"{where}.{key} is missing", field=f"{where}.{key}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{where}.{key} must be a string", field=f"{where}.{key}")
    return wire_id(value, f"{where}.{key}", rule)


def _text(data: Mapping[str, Any], key: str, where: str, limit: int, required: bool = False) -> str | None:
    """Free text from the wire: a string within its limit, with no lone surrogate or control character."""
    value = data.get(key)
    name = f"{where}.{key}"
    if _missing(value):
        if required:
            raise ValidationError(f"{name} is missing", field=name)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", field=name)
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", field=name)
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"{name} {problem}", field=name)
    return value


def _headers(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError(f"{where} must be an object of string values", field=where)
    if len(value) > MAX_HEADERS:
        raise ValidationError(f"{where} has {len(value)} headers; the limit is {MAX_HEADERS}", field=where)
    for name, text in value.items():
        if len(name) > MAX_HEADER_VALUE or len(text) > MAX_HEADER_VALUE:
            raise ValidationError(f"{where}: header names and values have at most {MAX_HEADER_VALUE} characters",
                                  field=where)
        problem = text_problem(name) or text_problem(text)
        if problem:
            raise ValidationError(f"{where}: a header {problem}", field=where)
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


# An IncomingCall can reach a ringing caller only while it is fresh. The Event Grid subscription keeps trying to
# deliver one for at most its time to live, 1 minute by default and at most 5 (infra/app/incoming-call-subscription
# .bicep): anything older is a replay or a stale copy, and acting on it could answer or redirect a call that ended
# long ago. A time this far ahead of the app's clock is not a clock's skew either.
RING_WINDOW = timedelta(minutes=5)
MAX_CLOCK_AHEAD = timedelta(seconds=60)


def stale_reason(incoming: "IncomingCall", now: datetime) -> str | None:
    """Why an IncomingCall is too old (or too far ahead) to act on at `now`, or None when it is fresh."""
    age = now - incoming.event_time
    if age > RING_WINDOW:
        return (f"its eventTime is {int(age.total_seconds())} s old, past the {int(RING_WINDOW.total_seconds())} s "
                "ring window: no caller is still ringing")
    if -age > MAX_CLOCK_AHEAD:
        return (f"its eventTime is {int(-age.total_seconds())} s ahead of this app's clock (more than "
                f"{int(MAX_CLOCK_AHEAD.total_seconds())} s)")
    return None


def parse_incoming_call(event_id: Any, event_time: Any, data: Any) -> IncomingCall:
    """Build an IncomingCall from an Event Grid event's id, time and data."""
    if not isinstance(event_id, str) or not event_id:
        raise ValidationError("event id is missing", field="id")
    wire_id(event_id, "id", EVENT_ID)
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
        server_call_id=_id(data, "serverCallId", "data", SERVER_CALL_ID),
        correlation_id=_id(data, "correlationId", "data", CORRELATION_ID),
        incoming_call_context=_text(data, "incomingCallContext", "data", MAX_INCOMING_CALL_CONTEXT, required=True),
        caller_display_name=_text(data, "callerDisplayName", "data", MAX_DISPLAY_NAME),
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
    code, sub_code = value.get("code"), value.get("subCode")
    for key, item in (("code", code), ("subCode", sub_code)):
        if item is not None and (not isinstance(item, int) or isinstance(item, bool)):
            raise ValidationError(f"{where}.{key} must be an integer", field=f"{where}.{key}")
        if item is not None and not INT32[0] <= item <= INT32[1]:
            raise ValidationError(f"{where}.{key} must be a 32-bit integer (from {INT32[0]} to {INT32[1]})",
                                  field=f"{where}.{key}")
    message = value.get("message")
    if message == "":
        message = None
    if message is not None:
        message = _text(value, "message", where, MAX_MESSAGE)
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
    if len(items) > MAX_PARTICIPANTS:
        raise ValidationError(f"{where}.participants has {len(items)} entries; the limit is {MAX_PARTICIPANTS}",
                              field=f"{where}.participants")
    parsed = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError(f"{where}.participants[{i}] must be an object", field=f"{where}.participants[{i}]")
        parsed.append(identifier_from_model(item.get("identifier"), f"{where}.participants[{i}].identifier"))
    size = sum(len(p.raw_id) + 3 for p in parsed)
    if size > MAX_PARTICIPANTS_CHARS:
        raise ValidationError(f"{where}.participants' raw ids take {size} characters; the limit is "
                              f"{MAX_PARTICIPANTS_CHARS}", field=f"{where}.participants")
    return tuple(parsed)


def _sequence_number(data: Mapping[str, Any], where: str) -> int | None:
    value = data.get("sequenceNumber")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValidationError(f"{where}.sequenceNumber must be an integer", field=f"{where}.sequenceNumber")
    if value is not None and not 0 <= value <= MAX_SEQUENCE_NUMBER:
        raise ValidationError(f"{where}.sequenceNumber must be from 0 to {MAX_SEQUENCE_NUMBER}",
                              field=f"{where}.sequenceNumber")
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
    event_id = _id(raw, "id", where, EVENT_ID)
    event_type = _id(raw, "type", where, EVENT_TYPE)
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
        call_connection_id=_id(data, "callConnectionId", dwhere, CALL_CONNECTION_ID),
        server_call_id=_id(data, "serverCallId", dwhere, SERVER_CALL_ID, required=False),
        correlation_id=_id(data, "correlationId", dwhere, CORRELATION_ID, required=False),
        operation_context=_text(data, "operationContext", dwhere, MAX_OPERATION_CONTEXT),
        result=_result(data.get("resultInformation"), f"{dwhere}.resultInformation"),
    )
    if cls is ParticipantsUpdated:
        return cls(**common, participants=_participants(data, dwhere), sequence_number=_sequence_number(data, dwhere))
    if issubclass(cls, ParticipantResult):
        return cls(**common, participant=_optional_identifier(data, "participant", dwhere))
    if issubclass(cls, InvitationResult):
        return cls(**common, invitation_id=_id(data, "invitationId", dwhere, INVITATION_ID, required=False))
    if cls in (PlayFailed, RecognizeFailed):
        return cls(**common, failed_play_source_index=_index(data, dwhere))
    if cls is RecognizeCompleted:
        return cls(**common, digits=_digits(data, dwhere))
    if cls is RecordingStateChanged:
        state = _text(data, "state", dwhere, 64)
        return cls(**common, recording_id=_id(data, "recordingId", dwhere, RECORDING_ID, required=False),
                   recording_state=state)
    if cls is CallTransferAccepted:
        return cls(**common, transfer_target=_optional_identifier(data, "transferTarget", dwhere),
                   transferee=_optional_identifier(data, "transferee", dwhere))
    return cls(**common)


def decode_json(body: bytes, root: str = "") -> Any:
    """A request body's JSON, or ValidationError saying where it breaks.

    JSON can carry what no store or service takes: a lone UTF-16 surrogate (`"\\ud800"`, or its bytes, which
    Python's JSON reader lets through) or a control character written as an escape. Every string in the body,
    keys included, is checked here once, so nothing downstream meets one.
    """
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not valid JSON: {exc}", field="body") from None
    except RecursionError:
        raise ValidationError("body is not valid JSON: nested too deeply", field="body") from None
    _check_strings(value, root)
    return value


def _check_strings(value: Any, root: str) -> None:
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise ValidationError(f"{path or 'body'} {problem}", field=path or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else key
                problem = text_problem(key)
                if problem:
                    raise ValidationError(f"a key of {path or 'body'} {problem}", field=path or "body")
                stack.append((child, where))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def parse_callback_body(body: bytes) -> list[CallEvent]:
    """Parse a callback POST body: a JSON array of CloudEvents, every one valid, or ValidationError."""
    raw = decode_json(body)
    if not isinstance(raw, list):
        raise ValidationError("body must be a JSON array of CloudEvents", field="body")
    if not raw:
        raise ValidationError("body is an empty array: expected at least one CloudEvent", field="body")
    if len(raw) > MAX_EVENTS_PER_BODY:
        raise PayloadTooLarge(f"body holds {len(raw)} events; the limit is {MAX_EVENTS_PER_BODY} per callback")
    events = [parse_callback_event(item, i) for i, item in enumerate(raw)]
    # A callback URL is issued for one call: a body naming several is refused whole, before anything is applied.
    first = events[0].call_connection_id
    for i, event in enumerate(events[1:], start=1):
        if event.call_connection_id != first:
            raise ValidationError(f"[{i}].data.callConnectionId names another call than [0]: the events of one "
                                  "callback body must all be for the call of its URL", field=f"[{i}].data.callConnectionId")
    return events
