"""The console's HTTP side, without a browser: content types, security headers, caching, only known assets."""

from __future__ import annotations

import re

import pytest

from shared import console
from tests.e2e.conftest import registered


def _headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def test_the_page_is_html_with_a_strict_policy_and_no_inline_script() -> None:
    response = console.page()
    headers = _headers(response)
    assert response.status_code == 200 and headers["content-type"] == "text/html; charset=utf-8"
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    html = response.get_body().decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert " style=" not in html and "http://" not in html and "https://" not in html
    # Each asset URL carries its content hash, so a new deploy never mixes an old script with a new page.
    assert re.search(r'src="console/assets/console\.js\?v=[0-9a-f]{12}"', html)
    assert re.search(r'href="console/assets/console\.css\?v=[0-9a-f]{12}"', html)


@pytest.mark.parametrize("name, kind", [("console.js", "text/javascript"), ("diagram.js", "text/javascript"),
                                        ("console.css", "text/css")])
def test_assets_have_their_content_type_and_are_cached(name: str, kind: str) -> None:
    response = console.asset(name)
    headers = _headers(response)
    assert response.status_code == 200 and headers["content-type"] == f"{kind}; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff" and "max-age" in headers["cache-control"]


@pytest.mark.parametrize("name", ["console.html", "__init__.py", "../function_app.py", "", "CONSOLE.JS"])
def test_only_the_known_assets_are_served(name: str) -> None:
    assert console.asset(name).status_code == 404


def test_the_assets_are_small_and_read_once() -> None:
    first = console._load()
    assert console._load() is first
    assert sum(len(f.body) for f in first.values()) < 64 * 1024
    for name in console.ASSETS:
        text = first[name].body.decode().replace('"http://www.w3.org/2000/svg"', "")  # a namespace, not a load
        assert "http://" not in text and "https://" not in text and "@import" not in text


def test_function_app_serves_the_page_and_its_assets() -> None:
    import azure.functions as func

    req = func.HttpRequest("GET", "http://localhost/api/console", body=b"")
    assert registered("console")(req).status_code == 200
    req = func.HttpRequest("GET", "http://localhost/api/console/assets/console.css", body=b"",
                           route_params={"name": "console.css"})
    assert _headers(registered("console_assets")(req))["content-type"].startswith("text/css")
