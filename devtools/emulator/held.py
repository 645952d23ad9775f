"""Targets scripted `ringing`: each ring of such a target waits until the test releases it with an outcome, or
until the invitation is cancelled. The test is the clock: no invitation timeout runs for them.

Why: a scaled timer (a 20 s invitation timeout is 0.2 s at time_scale 0.01) makes a test depend on the app
beating it under load. With a held target nothing happens until the test says so, and two held targets
released together answer at the same moment, as two agents of a simultaneous ring can on the service (the app
then sees a CancelAddParticipant of the later one fail: it was answered before the cancel arrived).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from .activity import Activity
from .model import Outcome


class HeldTargets:
    """The rings waiting on held targets, by raw id."""

    def __init__(self, activity: Activity) -> None:
        self._activity = activity
        self._waiting: dict[str, list[asyncio.Future[Outcome]]] = {}

    async def ring(self, raw_id: str) -> Outcome:
        """Ring until released; a held ring is not work in flight, so the emulator's idle() does not wait for it."""
        ring: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(raw_id, []).append(ring)
        try:
            async with self._uncounted():
                return await ring
        finally:
            waiting = self._waiting.get(raw_id, [])
            if ring in waiting:
                waiting.remove(ring)

    def ringing(self, raw_id: str) -> int:
        """How many rings of this target are waiting."""
        return len(self._waiting.get(raw_id, []))

    def release(self, raw_ids: list[str], outcome: Outcome) -> int:
        """End every waiting ring of these targets with `outcome`, all in the same instant; returns how many."""
        released = 0
        for raw_id in raw_ids:
            for ring in self._waiting.pop(raw_id, []):
                if not ring.done():
                    ring.set_result(outcome)
                    released += 1
        return released

    @asynccontextmanager
    async def _uncounted(self) -> AsyncIterator[None]:
        counted = self._activity.busy > 0
        if counted:
            self._activity.end()
        try:
            yield
        finally:
            if counted:
                self._activity.begin()
