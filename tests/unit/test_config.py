"""Settings: read once, validated, and a missing or malformed one named in the error."""

import pytest

from shared.config import SETTING_NAMES, load_settings
from shared.errors import ConfigError

GOOD = {
    "ACS_ENDPOINT": "http://127.0.0.1:8089",
    "ACS_ACCESS_KEY": "bG9jYWwtZW11bGF0b3Ita2V5LW5vdC1hLXNlY3JldC0wMQ==",
    "ACS_RESOURCE_ID": "00000000-0000-0000-0000-00000000ac5e",
    "CALLBACK_BASE_URL": "http://127.0.0.1:7071/",
    "CALLBACK_SECRET": "x" * 40,
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ROUTING_RULES_FILE": "rules.example.json",
}


def test_good_settings_load_with_the_trailing_slash_trimmed():
    settings = load_settings(GOOD)
    assert settings.callback.base_url == "http://127.0.0.1:7071"
    assert settings.callback.verify_jwt is True
    assert settings.acs.access_key and settings.rules_file == "rules.example.json"


def test_the_secret_never_shows_in_repr():
    assert "xxxxxxxx" not in repr(load_settings(GOOD))


@pytest.mark.parametrize("name,value,message", [
    ("CALLBACK_SECRET", None, "CALLBACK_SECRET is missing"),
    ("CALLBACK_SECRET", "short", "CALLBACK_SECRET is too short"),
    ("CALLBACK_BASE_URL", "not a url", "CALLBACK_BASE_URL must be an http(s) URL"),
    ("ACS_ENDPOINT", None, "ACS_ENDPOINT is missing"),
    ("ACS_ACCESS_KEY", "***not base64***", "ACS_ACCESS_KEY is malformed"),
    ("ACS_CALLER_ID", "555-0100", "ACS_CALLER_ID must be an E.164"),
    ("ACS_RESOURCE_ID", None, "ACS_RESOURCE_ID is missing"),
    ("ACS_CALLBACK_VERIFY_JWT", "maybe", "ACS_CALLBACK_VERIFY_JWT must be true or false"),
    ("TABLES_CONNECTION_STRING", None, "TABLES_CONNECTION_STRING and TABLES_ENDPOINT are both missing"),
    ("ROUTING_RULES_FILE", None, "ROUTING_RULES and ROUTING_RULES_FILE are both missing"),
])
def test_a_missing_or_malformed_setting_is_named(name, value, message):
    env = dict(GOOD)
    if value is None:
        env.pop(name, None)
    else:
        env[name] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert message in str(caught.value)


def test_a_connection_string_supplies_endpoint_and_key():
    env = {k: v for k, v in GOOD.items() if k not in ("ACS_ENDPOINT", "ACS_ACCESS_KEY")}
    env["ACS_CONNECTION_STRING"] = f"endpoint=https://acs.example.net/;accesskey={GOOD['ACS_ACCESS_KEY']}"
    settings = load_settings(env)
    assert settings.acs.endpoint == "https://acs.example.net" and settings.acs.access_key == GOOD["ACS_ACCESS_KEY"]


def test_without_key_or_connection_string_the_managed_identity_is_used():
    env = {k: v for k, v in GOOD.items() if k != "ACS_ACCESS_KEY"}
    assert load_settings(env).acs.access_key is None


def test_jwt_verification_can_be_turned_off_explicitly_without_a_resource_id():
    env = {k: v for k, v in GOOD.items() if k != "ACS_RESOURCE_ID"}
    env["ACS_CALLBACK_VERIFY_JWT"] = "false"
    assert load_settings(env).callback.verify_jwt is False


def test_every_declared_setting_has_a_unique_name():
    assert len(SETTING_NAMES) == len(set(SETTING_NAMES))
