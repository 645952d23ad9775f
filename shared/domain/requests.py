"""Control API requests: JSON bodies validated into typed commands, errors naming the field. Pure.

Custom header limits are the documented ones of Call Automation's custom context: at most 5 custom SIP
headers, each named X-MS-Custom-... in up to 64 characters with a value of up to 256; VoIP headers named
in up to 64 characters with values of up to 1024 (and at most 1000 of them); SIP names and values in a
restricted character set. The app refuses what the service would refuse, before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from shared.domain.events import decode_json
from shared.domain.identifiers import PHONE, Identifier, parse_phone_number, parse_target
from shared.errors import ValidationError

MAX_SIP_HEADERS = 5
MAX_VOIP_HEADERS = 1000
MAX_HEADER_NAME = 64
MAX_SIP_VALUE = 256
MAX_VOIP_VALUE = 1024
MAX_TARGETS = 20
MAX_INVITATION_TIMEOUT = 180
MAX_OPERATION_CONTEXT = 256
MAX_DISPLAY_NAME = 256
SIP_PREFIX = "x-ms-custom-"
UUI_HEADER = "User-To-User"
_SIP_NAME = re.compile(r"[A-Za-z0-9.!%*_+~-]+")
_SIP_VALUE = re.compile(r"[A-Za-z0-9=;.!%*_+~-]*")
_LOCATORS = {"serverCallId": "serverCall", "groupCallId": "groupCall", "roomId": "room"}


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object."""
    if not body or not body.strip():
        return {}
    value = decode_json(body)
    if not isinstance(value, dict):
        raise ValidationError("body must be a JSON object", field="body")
    return value


def _only(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(f"{unknown[0]} is not a field of this request (allowed: {', '.join(sorted(allowed))})",
                              field=unknown[0])


def _optional_str(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", field=name)
    return value


def operation_context(body: Mapping[str, Any], name: str = "operationContext") -> str | None:
    return _optional_str(body, name, MAX_OPERATION_CONTEXT)


def _caller_id(body: Mapping[str, Any]) -> str | None:
    value = body.get("callerId")
    return None if value is None else parse_phone_number(value, "callerId")


def sip_headers(value: Any, name: str = "sipHeaders") -> dict[str, str]:
    """Custom SIP headers, checked against the documented limits."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object of header names to string values", field=name)
    if len(value) > MAX_SIP_HEADERS:
        raise ValidationError(f"{name} has {len(value)} headers; at most {MAX_SIP_HEADERS} custom SIP headers "
                              "are allowed", field=name)
    for header, text in value.items():
        where = f"{name}.{header}"
        if not header.lower().startswith(SIP_PREFIX) or len(header) == len(SIP_PREFIX):
            raise ValidationError(f"{where}: custom SIP header names must start with X-MS-Custom-", field=where)
        if len(header) > MAX_HEADER_NAME or not _SIP_NAME.fullmatch(header):
            raise ValidationError(f"{where}: SIP header names have at most {MAX_HEADER_NAME} characters of "
                                  "letters, digits and . ! % * _ + ~ -", field=where)
        _sip_value(text, where)
    return dict(value)


def _sip_value(text: Any, where: str) -> None:
    if not isinstance(text, str):
        raise ValidationError(f"{where} must be a string", field=where)
    if len(text) > MAX_SIP_VALUE or not _SIP_VALUE.fullmatch(text):
        raise ValidationError(f"{where}: SIP header values have at most {MAX_SIP_VALUE} characters of "
                              "letters, digits and = ; . ! % * _ + ~ -", field=where)


def voip_headers(value: Any, name: str = "voipHeaders") -> dict[str, str]:
    """Custom VoIP headers, checked against the documented limits."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object of header names to string values", field=name)
    if len(value) > MAX_VOIP_HEADERS:
        raise ValidationError(f"{name} has more than {MAX_VOIP_HEADERS} headers", field=name)
    for header, text in value.items():
        where = f"{name}.{header}"
        if not header or len(header) > MAX_HEADER_NAME:
            raise ValidationError(f"{where}: VoIP header names have 1 to {MAX_HEADER_NAME} characters", field=where)
        if not isinstance(text, str) or len(text) > MAX_VOIP_VALUE:
            raise ValidationError(f"{where}: VoIP header values are strings of at most {MAX_VOIP_VALUE} characters",
                                  field=where)
    return dict(value)


@dataclass(frozen=True, eq=False)
class CustomContext:
    sip: dict[str, str] = field(default_factory=dict)
    voip: dict[str, str] = field(default_factory=dict)

    def sip_with_uui(self, user_to_user: str | None) -> dict[str, str] | None:
        headers = dict(self.sip)
        if user_to_user is not None:
            headers[UUI_HEADER] = user_to_user
        return headers or None


def _custom(body: Mapping[str, Any]) -> CustomContext:
    return CustomContext(sip=sip_headers(body.get("sipHeaders")), voip=voip_headers(body.get("voipHeaders")))


def _needs_caller_id(targets: tuple[Identifier, ...], caller_id: str | None, default: str | None) -> str | None:
    chosen = caller_id or default
    if any(t.kind == PHONE for t in targets) and not chosen:
        raise ValidationError("callerId is required to call a phone number (or set ACS_CALLER_ID)", field="callerId")
    return chosen


@dataclass(frozen=True, eq=False)
class CreateCall:
    targets: tuple[Identifier, ...]
    caller_id: str | None
    display_name: str | None
    operation_context: str | None


def parse_create_call(body: Mapping[str, Any], default_caller_id: str | None) -> CreateCall:
    _only(body, {"targets", "callerId", "displayName", "operationContext"})
    raw = body.get("targets")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("targets must be a non-empty list of phone numbers or raw ids", field="targets")
    if len(raw) > MAX_TARGETS:
        raise ValidationError(f"targets has more than {MAX_TARGETS} entries", field="targets")
    targets = tuple(parse_target(t, f"targets[{i}]") for i, t in enumerate(raw))
    if len(set(targets)) != len(targets):
        raise ValidationError("targets lists a participant twice", field="targets")
    return CreateCall(targets=targets, caller_id=_needs_caller_id(targets, _caller_id(body), default_caller_id),
                      display_name=_optional_str(body, "displayName", MAX_DISPLAY_NAME),
                      operation_context=operation_context(body))


@dataclass(frozen=True, eq=False)
class Connect:
    locator_kind: str
    locator_id: str
    operation_context: str | None


def parse_connect(body: Mapping[str, Any]) -> Connect:
    _only(body, {*_LOCATORS, "operationContext"})
    given = [name for name in _LOCATORS if body.get(name) is not None]
    if len(given) != 1:
        raise ValidationError("exactly one of serverCallId, groupCallId or roomId is required",
                              field="serverCallId" if not given else given[1])
    name = given[0]
    return Connect(locator_kind=_LOCATORS[name], locator_id=_optional_str(body, name, 1024),
                   operation_context=operation_context(body))


@dataclass(frozen=True, eq=False)
class TransferRequest:
    target: Identifier
    transferee: Identifier | None
    custom: CustomContext
    user_to_user: str | None
    operation_context: str | None


def parse_transfer(body: Mapping[str, Any]) -> TransferRequest:
    _only(body, {"target", "transferee", "sipHeaders", "voipHeaders", "userToUser", "operationContext"})
    if body.get("target") is None:
        raise ValidationError("target is required", field="target")
    user_to_user = body.get("userToUser")
    if user_to_user is not None:
        _sip_value(user_to_user, "userToUser")
    return TransferRequest(
        target=parse_target(body["target"], "target"),
        transferee=parse_target(body["transferee"], "transferee") if body.get("transferee") is not None else None,
        custom=_custom(body), user_to_user=user_to_user, operation_context=operation_context(body))


@dataclass(frozen=True, eq=False)
class AddParticipantRequest:
    target: Identifier
    caller_id: str | None
    display_name: str | None
    invitation_timeout: int | None
    custom: CustomContext
    operation_context: str | None


def parse_add_participant(body: Mapping[str, Any], default_caller_id: str | None = None) -> AddParticipantRequest:
    """The request; `caller_id` is the one given (else `default_caller_id`). Whether a phone target has one is checked
    against the call (see `require_caller_id`): the call may lend the number its caller dialled."""
    _only(body, {"target", "callerId", "displayName", "invitationTimeoutSeconds", "sipHeaders", "voipHeaders",
                 "operationContext"})
    if body.get("target") is None:
        raise ValidationError("target is required", field="target")
    target = parse_target(body["target"], "target")
    timeout = body.get("invitationTimeoutSeconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)
                                or not 1 <= timeout <= MAX_INVITATION_TIMEOUT):
        raise ValidationError(f"invitationTimeoutSeconds must be a whole number from 1 to {MAX_INVITATION_TIMEOUT}",
                              field="invitationTimeoutSeconds")
    return AddParticipantRequest(
        target=target, caller_id=_caller_id(body) or default_caller_id,
        display_name=_optional_str(body, "displayName", MAX_DISPLAY_NAME), invitation_timeout=timeout,
        custom=_custom(body), operation_context=operation_context(body))


def require_caller_id(target: Identifier, caller_id: str | None) -> str | None:
    """A phone target needs a caller id (ACS refuses the invitation without one); other targets need none."""
    return _needs_caller_id((target,), caller_id, None) if target.kind == PHONE else caller_id


def parse_hang_up(body: Mapping[str, Any]) -> bool:
    _only(body, {"forEveryone"})
    value = body.get("forEveryone")
    if not isinstance(value, bool):
        raise ValidationError("forEveryone is required: true ends the call for everyone, false removes only the app",
                              field="forEveryone")
    return value
