"""Communication identifiers: parsed from wire models or raw ids, validated, and masked for logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from shared.errors import ValidationError

PHONE = "phoneNumber"
ACS_USER = "communicationUser"
TEAMS_USER = "microsoftTeamsUser"
TEAMS_APP = "microsoftTeamsApp"
UNKNOWN = "unknown"
KINDS = (PHONE, ACS_USER, TEAMS_USER, TEAMS_APP, "teamsExtensionUser", UNKNOWN)

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ACS_PREFIXES = ("8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:")
_TEAMS_USER_PREFIXES = ("8:orgid:", "8:dod:", "8:gcch:", "8:teamsvisitor:")
_TEAMS_APP_PREFIXES = ("28:orgid:", "28:dod:", "28:gcch:")
_PREFIXES = _ACS_PREFIXES + _TEAMS_USER_PREFIXES + _TEAMS_APP_PREFIXES
# What follows a known prefix: ASCII only (re's [A-Za-z0-9] never matches fullwidth or other Unicode digits).
_ID_BODY = re.compile(r"[A-Za-z0-9_-]+")
_WIRE_RAW_ID = re.compile(r"[\x21-\x7e]+")
MAX_RAW_ID = 512


@dataclass(frozen=True)
class Identifier:
    """A participant: its kind and raw id (`4:+1425...` for phone numbers, `8:acs:...` for ACS users)."""

    kind: str
    raw_id: str

    @property
    def phone_number(self) -> str | None:
        """The E.164 number of a phone identifier, else None."""
        if self.kind != PHONE:
            return None
        return self.raw_id[2:].split("_", 1)[0] if self.raw_id.startswith("4:") else self.raw_id

    @property
    def display(self) -> str:
        """How rules and the API write it: the E.164 number for phones, the raw id otherwise."""
        return self.phone_number or self.raw_id

    def masked(self) -> str:
        """A form safe for logs: all but the last four characters hidden."""
        return mask(self.display)


def mask(value: str | None) -> str:
    """Hide all but the last four characters of a number or id."""
    if not value:
        return "-"
    keep = value[-4:]
    prefix = "+" if value.startswith("+") else ""
    return f"{prefix}***{keep}"


def kind_of_raw_id(raw_id: str) -> str:
    """The identifier kind that a raw id denotes, by its prefix."""
    if raw_id.startswith("4:") or raw_id.startswith("+"):
        return PHONE
    if raw_id.startswith(_ACS_PREFIXES):
        return ACS_USER
    if raw_id.startswith(_TEAMS_USER_PREFIXES):
        return TEAMS_USER
    if raw_id.startswith(_TEAMS_APP_PREFIXES):
        return TEAMS_APP
    return UNKNOWN


def parse_phone_number(value: Any, field_name: str) -> str:
    """Validate an E.164 number (ASCII digits only); raise ValidationError naming the field."""
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValidationError(f"{field_name} must be an E.164 phone number like +14255550123", field=field_name)
    return value


def _refuse_target(value: str, field_name: str, why: str) -> ValidationError:
    return ValidationError(f"{field_name} {value[:40]!r} {why}", field=field_name)


def parse_target(value: Any, field_name: str) -> Identifier:
    """Parse a target as the API and rules write it, once and strictly.

    Accepted: an E.164 number (`+14255550123`), the same as a phone raw id (`4:+14255550123`, the prefix once),
    or an ACS or Teams raw id: a known prefix (`8:acs:`, `8:orgid:`, `28:orgid:`, ...) followed by ASCII letters,
    digits, `-` and `_` (GUIDs, `resource_user` pairs). Nothing is trimmed, nothing else is accepted.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field_name} must be a phone number (E.164) or a raw id such as 8:acs:...",
                              field=field_name)
    if len(value) > MAX_RAW_ID:
        raise ValidationError(f"{field_name} is longer than {MAX_RAW_ID} characters", field=field_name)
    if value.startswith("+"):
        return Identifier(PHONE, "4:" + parse_phone_number(value, field_name))
    if value.startswith("4:"):
        if not _E164.fullmatch(value[2:]):
            raise _refuse_target(value, field_name, "is a phone raw id (4:) without an E.164 number after it "
                                                    "(like 4:+14255550123)")
        return Identifier(PHONE, value)
    prefix = next((p for p in _PREFIXES if value.startswith(p)), None)
    if prefix is None:
        raise _refuse_target(value, field_name, "is neither an E.164 number nor a known raw id "
                                                "(8:acs:, 8:orgid:, 28:orgid:, ...)")
    if not _ID_BODY.fullmatch(value[len(prefix):]):
        raise _refuse_target(value, field_name, f"must be {prefix} followed by ASCII letters, digits, - and _")
    return Identifier(kind_of_raw_id(value), value)


def _wire_raw_id(raw_id: str, field_name: str) -> str:
    """A raw id as ACS sends it in an event: visible ASCII, bounded; its kind may be one the app does not know."""
    if len(raw_id) > MAX_RAW_ID:
        raise ValidationError(f"{field_name}.rawId is longer than {MAX_RAW_ID} characters", field=f"{field_name}.rawId")
    if not _WIRE_RAW_ID.fullmatch(raw_id):
        raise ValidationError(f"{field_name}.rawId must be visible ASCII characters (no spaces or control characters)",
                              field=f"{field_name}.rawId")
    return raw_id


def identifier_from_model(model: Any, field_name: str) -> Identifier:
    """Parse a CommunicationIdentifierModel from an event; the raw id is authoritative, the kind a hint."""
    if not isinstance(model, Mapping):
        raise ValidationError(f"{field_name} must be an identifier object", field=field_name)
    raw_id = model.get("rawId")
    kind = model.get("kind")
    if not isinstance(raw_id, str) or not raw_id:
        raw_id = _raw_id_from_parts(model)
    if raw_id is None:
        raise ValidationError(f"{field_name} has no rawId", field=field_name)
    raw_id = _wire_raw_id(raw_id, field_name)
    if not isinstance(kind, str) or kind not in KINDS:
        kind = kind_of_raw_id(raw_id)
    return Identifier(kind, raw_id)


def _raw_id_from_parts(model: Mapping[str, Any]) -> str | None:
    phone = model.get("phoneNumber")
    if isinstance(phone, Mapping) and isinstance(phone.get("value"), str):
        return "4:" + phone["value"]
    user = model.get("communicationUser")
    if isinstance(user, Mapping) and isinstance(user.get("id"), str):
        return user["id"]
    return None


# ---- wire ids: what ACS and Event Grid name calls and events with --------------------------------------------
# Each is checked at the edge (characters and length) before it becomes a storage key, a URL path segment or log
# text. Bounds admit every id in the service's recorded payloads (/work/shared/acs-recordings: call connection,
# correlation and invitation ids are GUIDs; serverCallIds are base64, up to 196 characters there) with room to
# spare; the characters exclude `/ \ # ?`, `%`, `.`-only segments, spaces and control characters.


@dataclass(frozen=True)
class WireIdRule:
    name: str
    pattern: re.Pattern[str]
    max_length: int
    characters: str


_GUID_LIKE = "ASCII letters, digits, - and _"
CALL_CONNECTION_ID = WireIdRule("call connection id", re.compile(r"[A-Za-z0-9_-]+"), 128, _GUID_LIKE)
# Call ids of the state API: a call connection id, or the app's own call key for calls never connected.
CALL_ID = WireIdRule("call id", CALL_CONNECTION_ID.pattern, 128, _GUID_LIKE)
LOCATOR_ID = WireIdRule("group call or room id", CALL_CONNECTION_ID.pattern, 128, _GUID_LIKE)
INVITATION_ID = WireIdRule("invitation id", CALL_CONNECTION_ID.pattern, 128, _GUID_LIKE)
CORRELATION_ID = WireIdRule("correlation id", re.compile(r"[A-Za-z0-9_.:-]+"), 128, "ASCII letters, digits, - _ . :")
# Base64 (standard or URL-safe, padded or not) of a conversation URL: long, and not capped short.
SERVER_CALL_ID = WireIdRule("server call id", re.compile(r"[A-Za-z0-9+/=_-]+"), 4096,
                            "base64 characters (letters, digits, + / = - _)")
RECORDING_ID = WireIdRule("recording id", SERVER_CALL_ID.pattern, 4096, SERVER_CALL_ID.characters)
EVENT_ID = WireIdRule("event id", re.compile(r"[A-Za-z0-9_.:+=@~-]+"), 256,
                      "ASCII letters, digits and - _ . : + = @ ~")


def wire_id(value: Any, field_name: str, rule: WireIdRule) -> str:
    """An id from the wire, checked by its rule; ValidationError naming the field and the limit otherwise."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field_name} must be a non-empty string", field=field_name)
    if len(value) > rule.max_length:
        raise ValidationError(f"{field_name} is longer than {rule.max_length} characters (the limit of a {rule.name})",
                              field=field_name)
    if not rule.pattern.fullmatch(value):
        article = "an" if rule.name[0] in "aeiou" else "a"
        raise ValidationError(f"{field_name}: {article} {rule.name} has only {rule.characters}", field=field_name)
    return value


def is_wire_id(value: Any, rule: WireIdRule) -> bool:
    try:
        wire_id(value, "id", rule)
    except ValidationError:
        return False
    return True


# ---- free text from the wire (messages, display names, operation contexts) ---------------------------------------
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored or sent as is (a lone UTF-16 surrogate, a control character), or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    code = ord(found.group())
    return "holds a lone UTF-16 surrogate" if 0xD800 <= code <= 0xDFFF else f"holds control character U+{code:04X}"
