"""Fixtures for the infra tests (helpers in infra_bicep.py).

These tests run in their own virtual environment (.venv-infra, see devtools/check_infra.py). Collected
from an environment without pycep-parser (the app's), they are skipped rather than failed.
"""

from __future__ import annotations

import importlib
import sys

import pytest

pytest.importorskip("pycep", reason="infra tests need pycep-parser: run python3 devtools/check_infra.py")

from infra_bicep import ROOT, Infra  # noqa: E402


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra()


@pytest.fixture(scope="session")
def bicep_types():
    from bicep_typecheck import Types

    return Types()


@pytest.fixture(scope="session")
def app_settings_contract():
    """The app's settings contract (shared/config.py), imported without the app's dependencies."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        config = importlib.import_module("shared.config")
    except ImportError as exc:  # pragma: no cover - only while the app is being written
        pytest.fail(f"cannot import shared.config (stdlib only by contract): {exc}")
    return config.SETTINGS
