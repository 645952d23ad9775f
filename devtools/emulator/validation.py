"""Request body checks written from the spec's request schemas (required fields, types, enums)."""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlparse

from .errors import bad_request
from .identifiers import Identifier, identifier_from_model, phone_from_model


class Body:
    """Typed, validating reads of one JSON request body; every failure is a 400 naming the field."""

    def __init__(self, payload: Any, schema: str) -> None:
        if not isinstance(payload, dict):
            raise bad_request(f"The request body must be a {schema} JSON object.")
        self._payload: dict[str, Any] = payload
        self._schema = schema

    def _missing(self, key: str) -> Exception:
        return bad_request(f"The field '{key}' is required by {self._schema}.")

    def required_str(self, key: str) -> str:
        """A required non-empty string."""
        value = self._payload.get(key)
        if value is None or value == "":
            raise self._missing(key)
        if not isinstance(value, str):
            raise bad_request(f"The field '{key}' must be a string.")
        return value

    def optional_str(self, key: str) -> str | None:
        """An optional string."""
        value = self._payload.get(key)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"The field '{key}' must be a string.")
        return value

    def required_url(self, key: str) -> str:
        """A required absolute http(s) URL (the real service wants https; the emulator allows http locally)."""
        value = self.required_str(key)
        return self._check_url(key, value)

    def optional_url(self, key: str) -> str | None:
        """An optional absolute http(s) URL."""
        value = self.optional_str(key)
        return None if value is None else self._check_url(key, value)

    @staticmethod
    def _check_url(key: str, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise bad_request(f"The field {key} is invalid: it must be an absolute http(s) URL.")
        return value

    def required_identifier(self, key: str) -> Identifier:
        """A required CommunicationIdentifierModel."""
        if self._payload.get(key) is None:
            raise self._missing(key)
        return identifier_from_model(self._payload[key], key)

    def optional_identifier(self, key: str) -> Identifier | None:
        """An optional CommunicationIdentifierModel."""
        value = self._payload.get(key)
        return None if value is None else identifier_from_model(value, key)

    def optional_phone(self, key: str) -> Identifier | None:
        """An optional PhoneNumberIdentifierModel."""
        value = self._payload.get(key)
        return None if value is None else phone_from_model(value, key)

    def optional_user(self, key: str) -> Identifier | None:
        """An optional CommunicationUserIdentifierModel ({"id": ...})."""
        value = self._payload.get(key)
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            raise bad_request(f"The field '{key}.id' is required and must be a string.")
        return Identifier(value["id"])

    def required_identifiers(self, key: str) -> list[Identifier]:
        """A required, non-empty array of CommunicationIdentifierModel."""
        value = self._payload.get(key)
        if value is None:
            raise self._missing(key)
        if not isinstance(value, list) or not value:
            raise bad_request(f"The field '{key}' must be a non-empty array.")
        return [identifier_from_model(item, f"{key}[{index}]") for index, item in enumerate(value)]

    def optional_int(self, key: str, minimum: int, maximum: int) -> int | None:
        """An optional integer within [minimum, maximum]."""
        value = self._payload.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The field '{key}' must be an integer.")
        if not minimum <= value <= maximum:
            raise bad_request(f"The field '{key}' must be between {minimum} and {maximum}.")
        return value

    def optional_enum(self, key: str, allowed: Iterable[str]) -> str | None:
        """An optional string from a spec enum (compared case-insensitively, as modelAsString enums are)."""
        value = self.optional_str(key)
        if value is None:
            return None
        choices = list(allowed)
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise bad_request(f"The field '{key}' must be one of {', '.join(choices)}.")

    def optional_object(self, key: str) -> dict[str, Any] | None:
        """An optional nested object, returned as is."""
        value = self._payload.get(key)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"The field '{key}' must be an object.")
        return value

    def required_object(self, key: str) -> dict[str, Any]:
        """A required nested object."""
        value = self.optional_object(key)
        if value is None:
            raise self._missing(key)
        return value
