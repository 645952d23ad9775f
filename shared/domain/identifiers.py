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
_MAX_RAW_ID = 512


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
    """Validate an E.164 number; raise ValidationError naming the field."""
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValidationError(f"{field_name} must be an E.164 phone number like +14255550123", field=field_name)
    return value


def parse_target(value: Any, field_name: str) -> Identifier:
    """Parse a target written as the API and rules write it: an E.164 number or an ACS or Teams raw id."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field_name} must be a phone number (E.164) or a raw id such as 8:acs:...", field=field_name)
    value = value.strip()
    if len(value) > _MAX_RAW_ID:
        raise ValidationError(f"{field_name} is longer than {_MAX_RAW_ID} characters", field=field_name)
    if value.startswith("4:"):
        value = value[2:]
    if value.startswith("+"):
        return Identifier(PHONE, "4:" + parse_phone_number(value, field_name))
    kind = kind_of_raw_id(value)
    if kind == UNKNOWN or value.endswith(":"):
        raise ValidationError(
            f"{field_name} {value[:40]!r} is neither an E.164 number nor a known raw id (8:acs:, 8:orgid:, 28:orgid:, ...)",
            field=field_name,
        )
    return Identifier(kind, value)


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
