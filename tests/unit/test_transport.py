"""The SDK clients' HTTP transport honours environment proxy settings when some are set, and otherwise skips the
per-request proxy and netrc lookups (two worker-thread hand-offs per request)."""

import pytest

from shared import bootstrap

PROXY_VARIABLES = ["http_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HTTP_PROXY", "https_proxy"]


@pytest.fixture
def no_proxy_settings(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_proxy_settings_the_transport_does_not_read_the_environment_per_request(no_proxy_settings):
    assert bootstrap._transport()._use_env_settings is False


@pytest.mark.parametrize("name", PROXY_VARIABLES)
def test_any_proxy_setting_in_either_case_keeps_the_environment_honoured(no_proxy_settings, name):
    no_proxy_settings.setenv(name, "http://proxy.example.test:3128")
    assert bootstrap._transport()._use_env_settings is True


def test_an_empty_proxy_setting_counts_as_none(no_proxy_settings):
    no_proxy_settings.setenv("HTTPS_PROXY", "")
    assert bootstrap._transport()._use_env_settings is False
