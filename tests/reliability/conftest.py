"""The reliability suite's fixtures (the e2e stack: Azurite, the ACS emulator, the app on the local host) and its
end-of-session report of figures, one line each."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import azurite, settings_changed, stack  # noqa: F401
from tests.reliability import figures
from tests.reliability.figures import lines
from tests.reliability.helpers import own_stack_settings  # noqa: F401  (autouse)


@pytest.fixture(autouse=True)
def known_bug(request: pytest.FixtureRequest):
    """Losses found by a test marked xfail (a known app bug) are counted, and said apart in the report."""
    figures.in_known_bug = request.node.get_closest_marker("xfail") is not None
    yield
    figures.in_known_bug = False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("reliability figures")
    for line in lines():
        terminalreporter.write_line(line)
