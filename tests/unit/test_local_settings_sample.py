"""local.settings.sample.json stays in step with the settings the app declares, and loads as it is."""

import json
from pathlib import Path

from shared.config import SETTING_NAMES, load_settings

SAMPLE = Path(__file__).resolve().parents[2] / "local.settings.sample.json"


def test_the_sample_lists_every_declared_setting():
    values = json.loads(SAMPLE.read_text())["Values"]
    assert set(SETTING_NAMES) <= set(values)


def test_the_sample_settings_load_without_error():
    values = json.loads(SAMPLE.read_text())["Values"]
    settings = load_settings(values)
    assert settings.callback.verify_jwt and settings.rules_file == "rules.example.json"
