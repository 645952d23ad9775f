"""The volume suite's fixtures: the e2e stack (Azurite, the ACS emulator, the app on the local host)."""

from tests.e2e.conftest import azurite, settings_changed, stack  # noqa: F401
from tests.reliability.helpers import own_stack_settings  # noqa: F401  (autouse)
