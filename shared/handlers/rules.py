"""The routing rules, for operators: which rule takes a call, simulated without calling ACS or writing anything."""

from __future__ import annotations

from typing import Any

from shared.bootstrap import Services
from shared.domain.simulation import parse_simulation, simulate


async def simulate_rules(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """The decision the loaded ruleset (or the body's own `rules`) makes for a simulated call, with its trace."""
    recordings = bool(services.settings.recordings_container_url)
    return simulate(services.rules, parse_simulation(body, recordings), services.clock())
