"""Settings: declared once, read once from the environment, validated with errors that name the setting."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from shared.errors import ConfigError


@dataclass(frozen=True, eq=False)
class Setting:
    """One app setting: its name, what it is for, its local default and whether Azure deploys it."""

    name: str
    purpose: str
    local_default: str = ""
    # True when infra/ must set it in the Function App's settings for the app to work in Azure.
    deployed: bool = False
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("ACS_ENDPOINT", "Call Automation endpoint of the ACS resource", "http://127.0.0.1:8089", deployed=True),
    Setting("ACS_ACCESS_KEY", "ACS access key (base64); unset in Azure, where the managed identity is used", "", secret=True),
    Setting("ACS_CONNECTION_STRING", "ACS connection string, used when ACS_ACCESS_KEY is unset", "", secret=True),
    Setting("ACS_CALLER_ID", "default caller id (E.164) for calls and invitations to phone numbers", "", deployed=True),
    Setting("ACS_RESOURCE_ID", "immutable id of the ACS resource: the audience of callback JWTs", "", deployed=True),
    Setting("ACS_CALLBACK_ISSUER", "issuer of callback JWTs", "https://acscallautomation.communication.azure.com"),
    Setting("ACS_CALLBACK_JWKS_URL", "key set that signs callback JWTs", "https://acscallautomation.communication.azure.com/calling/keys"),
    Setting("ACS_CALLBACK_VERIFY_JWT", "verify the JWT on every callback; 'false' turns it off (logged as a warning)", "true"),
    Setting("CALLBACK_BASE_URL", "public base URL of this app; callbacks go to {CALLBACK_BASE_URL}/api/callbacks/...", "http://127.0.0.1:7071", deployed=True),
    Setting("CALLBACK_SECRET", "secret (at least 32 characters) that signs the per-call callback tokens", "", deployed=True, secret=True),
    Setting("TABLES_CONNECTION_STRING", "Table Storage connection string (local: Azurite)", "", secret=True),
    Setting("TABLES_ENDPOINT", "Table Storage endpoint, reached with the managed identity", "", deployed=True),
    Setting("ROUTING_RULES", "routing rules, inline JSON", "", deployed=True),
    Setting("ROUTING_RULES_FILE", "path of a routing rules JSON file, used when ROUTING_RULES is unset", "rules.example.json"),
    Setting("STALE_CALL_SECONDS", "a live call silent this long is checked against ACS when it is read", "600"),
    Setting("CALL_RETENTION_DAYS", "calls (every row) and their voicemails are deleted this many days after they began, legs rows this many days after their last change: 1-3650", "90"),
    Setting("RECORDINGS_CONTAINER_URL", "Blob container URL that ACS records voicemails into (needed by voicemail steps)", "", deployed=True),
    Setting("CLOCK_OFFSET_SECONDS", "shift the app's clock, and the time routing rules see for each call, by this many seconds (rehearse calendars, windows and retention; 0 in production)", "0"),
)

SETTING_NAMES: tuple[str, ...] = tuple(s.name for s in SETTINGS)
_MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, eq=False)
class AcsSettings:
    endpoint: str
    access_key: str | None
    caller_id: str | None
    resource_id: str | None


@dataclass(frozen=True, eq=False)
class CallbackSettings:
    base_url: str
    secret: bytes = field(repr=False)
    verify_jwt: bool
    issuer: str
    jwks_url: str


@dataclass(frozen=True, eq=False)
class TablesSettings:
    connection_string: str | None = field(repr=False)
    endpoint: str | None


@dataclass(frozen=True, eq=False)
class Settings:
    acs: AcsSettings
    callback: CallbackSettings
    tables: TablesSettings
    rules_json: str | None = field(repr=False)
    rules_file: str | None
    stale_call_seconds: int = 600
    retention_days: int = 90
    recordings_container_url: str | None = None
    clock_offset_seconds: int = 0


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _require(env: Mapping[str, str], name: str) -> str:
    value = _get(env, name)
    if not value:
        raise ConfigError(f"setting {name} is missing: {_purpose(name)}")
    return value


def _purpose(name: str) -> str:
    return next(s.purpose for s in SETTINGS if s.name == name)


def _url(env: Mapping[str, str], name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"setting {name} must be an http(s) URL, got {value[:60]!r}")
    return value.rstrip("/")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _get(env, name).lower()
    if not value:
        return default
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"setting {name} must be true or false, got {value!r}")


def _parse_connection_string(value: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in value.split(";"):
        if piece.strip():
            key, sep, val = piece.partition("=")
            if not sep:
                raise ConfigError("setting ACS_CONNECTION_STRING is malformed: expected endpoint=...;accesskey=...")
            parts[key.strip().lower()] = val.strip()
    return parts


def _acs(env: Mapping[str, str]) -> AcsSettings:
    endpoint = _get(env, "ACS_ENDPOINT")
    key = _get(env, "ACS_ACCESS_KEY") or None
    if key is None and _get(env, "ACS_CONNECTION_STRING"):
        parts = _parse_connection_string(_get(env, "ACS_CONNECTION_STRING"))
        if "endpoint" not in parts or "accesskey" not in parts:
            raise ConfigError("setting ACS_CONNECTION_STRING is malformed: expected endpoint=...;accesskey=...")
        endpoint = endpoint or parts["endpoint"]
        key = parts["accesskey"]
    if not endpoint:
        raise ConfigError(f"setting ACS_ENDPOINT is missing: {_purpose('ACS_ENDPOINT')}")
    endpoint = _url(env, "ACS_ENDPOINT", endpoint)
    if key is not None:
        try:
            base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("setting ACS_ACCESS_KEY is malformed: it must be the base64 access key of the ACS resource") from None
    caller_id = _get(env, "ACS_CALLER_ID") or None
    if caller_id is not None:
        from shared.domain.identifiers import parse_phone_number
        from shared.errors import ValidationError

        try:
            parse_phone_number(caller_id, field_name="setting ACS_CALLER_ID")
        except ValidationError as exc:
            raise ConfigError(str(exc)) from None
    return AcsSettings(endpoint=endpoint, access_key=key, caller_id=caller_id, resource_id=_get(env, "ACS_RESOURCE_ID") or None)


def _callback(env: Mapping[str, str]) -> CallbackSettings:
    base_url = _url(env, "CALLBACK_BASE_URL", _require(env, "CALLBACK_BASE_URL"))
    secret = _require(env, "CALLBACK_SECRET")
    if len(secret) < _MIN_SECRET_LENGTH:
        raise ConfigError(f"setting CALLBACK_SECRET is too short: use at least {_MIN_SECRET_LENGTH} random characters")
    verify = _flag(env, "ACS_CALLBACK_VERIFY_JWT", True)
    issuer = _get(env, "ACS_CALLBACK_ISSUER") or _default("ACS_CALLBACK_ISSUER")
    jwks_url = _url(env, "ACS_CALLBACK_JWKS_URL", _get(env, "ACS_CALLBACK_JWKS_URL") or _default("ACS_CALLBACK_JWKS_URL"))
    if verify and not _get(env, "ACS_RESOURCE_ID"):
        raise ConfigError(
            "setting ACS_RESOURCE_ID is missing: callbacks are verified by JWT and its audience is the ACS "
            "resource's immutable id (set ACS_CALLBACK_VERIFY_JWT=false only for local experiments)"
        )
    return CallbackSettings(base_url=base_url, secret=secret.encode(), verify_jwt=verify, issuer=issuer, jwks_url=jwks_url)


def _tables(env: Mapping[str, str]) -> TablesSettings:
    conn = _get(env, "TABLES_CONNECTION_STRING") or None
    endpoint = _get(env, "TABLES_ENDPOINT") or None
    if conn is None and endpoint is None:
        raise ConfigError("settings TABLES_CONNECTION_STRING and TABLES_ENDPOINT are both missing: set one of them")
    if conn is not None and "=" not in conn:
        raise ConfigError("setting TABLES_CONNECTION_STRING is malformed: expected key=value pairs separated by ';'")
    if endpoint is not None:
        endpoint = _url(env, "TABLES_ENDPOINT", endpoint)
    return TablesSettings(connection_string=conn, endpoint=endpoint)


def _default(name: str) -> str:
    return next(s.local_default for s in SETTINGS if s.name == name)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigError naming the first one that is wrong."""
    env = os.environ if env is None else env
    rules_json = _get(env, "ROUTING_RULES") or None
    rules_file = None if rules_json else (_get(env, "ROUTING_RULES_FILE") or None)
    if rules_json is None and rules_file is None:
        raise ConfigError("settings ROUTING_RULES and ROUTING_RULES_FILE are both missing: set one of them")
    return Settings(acs=_acs(env), callback=_callback(env), tables=_tables(env), rules_json=rules_json,
                    rules_file=rules_file, stale_call_seconds=_seconds(env, "STALE_CALL_SECONDS"),
                    recordings_container_url=_container(env), clock_offset_seconds=_offset(env),
                    retention_days=_whole(env, "CALL_RETENTION_DAYS", 1, 3650, "days"))


def _container(env: Mapping[str, str]) -> str | None:
    value = _get(env, "RECORDINGS_CONTAINER_URL")
    if not value:
        return None
    parts = urlsplit(value)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)) \
            or parts.query or parts.fragment:
        raise ConfigError("setting RECORDINGS_CONTAINER_URL must be the https URL of a Blob container, without a "
                          f"SAS token (ACS writes with its managed identity), got {value[:60]!r}")
    return value.rstrip("/")


def _offset(env: Mapping[str, str]) -> int:
    raw = _get(env, "CLOCK_OFFSET_SECONDS") or "0"
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"setting CLOCK_OFFSET_SECONDS must be a whole number of seconds, got {raw[:40]!r}") from None


def _whole(env: Mapping[str, str], name: str, low: int, high: int, unit: str) -> int:
    raw = _get(env, name) or _default(name)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"setting {name} must be a whole number of {unit} from {low} to {high}, got {raw[:20]!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str) -> int:
    raw = _get(env, name) or _default(name)
    if not raw.isdigit():
        raise ConfigError(f"setting {name} must be a whole number of seconds, got {raw!r}")
    return int(raw)
