"""Communication identifiers: raw ids to and from the spec's CommunicationIdentifierModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .errors import bad_request

PHONE_NUMBER = "phoneNumber"
COMMUNICATION_USER = "communicationUser"
MICROSOFT_TEAMS_USER = "microsoftTeamsUser"
MICROSOFT_TEAMS_APP = "microsoftTeamsApp"
TEAMS_EXTENSION_USER = "teamsExtensionUser"
UNKNOWN = "unknown"

_ACS_USER_PREFIXES = ("8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:")
# Teams user raw ids carry the cloud in their prefix; "teamsvisitor" marks an anonymous user.
_TEAMS_USER_PREFIXES = {
    "8:orgid:": ("public", False),
    "8:dod:": ("dod", False),
    "8:gcch:": ("gcch", False),
    "8:teamsvisitor:": ("public", True),
}
_TEAMS_APP_PREFIXES = {"28:orgid:": "public", "28:dod:": "dod", "28:gcch:": "gcch"}
_CLOUD_USER_PREFIX = {"public": "8:orgid:", "dod": "8:dod:", "gcch": "8:gcch:"}
_CLOUD_APP_PREFIX = {"public": "28:orgid:", "dod": "28:dod:", "gcch": "28:gcch:"}


@dataclass(frozen=True)
class Identifier:
    """A participant identity, keyed by its raw id as ACS does."""

    raw_id: str

    @classmethod
    def parse(cls, raw_or_phone: str) -> Identifier:
        """Build from a raw id, accepting a bare E.164 number for a phone."""
        if raw_or_phone.startswith("+"):
            return cls("4:" + raw_or_phone)
        return cls(raw_or_phone)

    @property
    def kind(self) -> str:
        """The spec's CommunicationIdentifierModelKind for this raw id."""
        raw = self.raw_id
        if raw.startswith("4:"):
            return PHONE_NUMBER
        if raw.startswith(_ACS_USER_PREFIXES):
            return COMMUNICATION_USER
        if raw.startswith(tuple(_TEAMS_USER_PREFIXES)):
            return MICROSOFT_TEAMS_USER
        if raw.startswith(tuple(_TEAMS_APP_PREFIXES)):
            return MICROSOFT_TEAMS_APP
        return UNKNOWN

    @property
    def phone_number(self) -> str | None:
        """The E.164 number of a phone identifier, else None."""
        return self.raw_id[2:] if self.kind == PHONE_NUMBER else None

    def to_model(self) -> dict[str, Any]:
        """Serialize as a response CommunicationIdentifierModel (kind and rawId always set)."""
        raw = self.raw_id
        model: dict[str, Any] = {"kind": self.kind, "rawId": raw}
        kind = self.kind
        if kind == PHONE_NUMBER:
            model[PHONE_NUMBER] = {"value": raw[2:]}
        elif kind == COMMUNICATION_USER:
            model[COMMUNICATION_USER] = {"id": raw}
        elif kind == MICROSOFT_TEAMS_USER:
            for prefix, (cloud, anonymous) in _TEAMS_USER_PREFIXES.items():
                if raw.startswith(prefix):
                    user: dict[str, Any] = {"userId": raw[len(prefix):], "cloud": cloud}
                    if anonymous:
                        user["isAnonymous"] = True
                    model[MICROSOFT_TEAMS_USER] = user
        elif kind == MICROSOFT_TEAMS_APP:
            for prefix, cloud in _TEAMS_APP_PREFIXES.items():
                if raw.startswith(prefix):
                    model[MICROSOFT_TEAMS_APP] = {"appId": raw[len(prefix):], "cloud": cloud}
        return model


def _require_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"The field '{where}.{key}' is required and must be a non-empty string.")
    return value


def identifier_from_model(model: Any, where: str) -> Identifier:
    """Read a request CommunicationIdentifierModel; the SDK sends rawId plus one typed property, no kind."""
    if not isinstance(model, dict):
        raise bad_request(f"The field '{where}' must be a CommunicationIdentifierModel object.")
    typed = [k for k in (PHONE_NUMBER, COMMUNICATION_USER, MICROSOFT_TEAMS_USER, MICROSOFT_TEAMS_APP,
                         TEAMS_EXTENSION_USER) if model.get(k) is not None]
    if len(typed) > 1:
        raise bad_request(f"The field '{where}' must set at most one of {', '.join(typed)}.")
    raw_id = model.get("rawId")
    if raw_id is not None and (not isinstance(raw_id, str) or not raw_id):
        raise bad_request(f"The field '{where}.rawId' must be a non-empty string.")
    if not typed:
        if raw_id is None:
            raise bad_request(f"The field '{where}' must carry a rawId or a typed identifier.")
        return Identifier(raw_id)
    kind = typed[0]
    inner = model[kind]
    if not isinstance(inner, dict):
        raise bad_request(f"The field '{where}.{kind}' must be an object.")
    if kind == PHONE_NUMBER:
        derived = "4:" + _require_str(inner, "value", f"{where}.{kind}")
    elif kind == COMMUNICATION_USER:
        derived = _require_str(inner, "id", f"{where}.{kind}")
    elif kind == MICROSOFT_TEAMS_USER:
        user_id = _require_str(inner, "userId", f"{where}.{kind}")
        cloud = inner.get("cloud") or "public"
        derived = ("8:teamsvisitor:" if inner.get("isAnonymous") else _CLOUD_USER_PREFIX.get(cloud, "8:orgid:")) + user_id
    elif kind == MICROSOFT_TEAMS_APP:
        app_id = _require_str(inner, "appId", f"{where}.{kind}")
        derived = _CLOUD_APP_PREFIX.get(inner.get("cloud") or "public", "28:orgid:") + app_id
    else:
        for field in ("userId", "tenantId", "resourceId"):
            _require_str(inner, field, f"{where}.{kind}")
        derived = f"8:acs:{inner['resourceId']}_{inner['tenantId']}_{inner['userId']}"
    # The rawId the client sent wins: it is what ACS keys participants by.
    return Identifier(raw_id or derived)


def phone_from_model(model: Any, where: str) -> Identifier:
    """Read a PhoneNumberIdentifierModel ({"value": "+1..."})."""
    if not isinstance(model, dict):
        raise bad_request(f"The field '{where}' must be a PhoneNumberIdentifierModel object.")
    return Identifier("4:" + _require_str(model, "value", where))
