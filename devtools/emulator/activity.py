"""Tracking of background work (timers, callback deliveries) so tests can wait for quiet."""

from __future__ import annotations

import asyncio
import logging
from typing import Coroutine, Any

log = logging.getLogger("devtools.emulator")


class Activity:
    """Counts work in flight and owns the background tasks; idle() waits until none is left."""

    def __init__(self) -> None:
        self._busy = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def busy(self) -> int:
        """Units of counted work in flight."""
        return self._busy

    def begin(self) -> None:
        """Mark one unit of work as started."""
        self._busy += 1
        self._quiet.clear()

    def end(self) -> None:
        """Mark one unit of work as finished."""
        self._busy -= 1
        if self._busy == 0:
            self._quiet.set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, counted: bool = True) -> asyncio.Task[Any]:
        """Run coro in the background; counted work keeps idle() waiting until it is done."""
        if counted:
            self.begin()
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if counted:
                self.end()
            if not finished.cancelled() and finished.exception() is not None:
                log.error("emulator background task failed", exc_info=finished.exception())

        task.add_done_callback(done)
        return task

    async def idle(self, timeout: float) -> None:
        """Wait until no counted work is in flight; TimeoutError after timeout seconds."""
        async with asyncio.timeout(timeout):
            while self._busy:
                await self._quiet.wait()
                # Done-callbacks of one task may start the next piece of work: look again next turn.
                await asyncio.sleep(0)

    async def cancel_all(self) -> None:
        """Cancel every background task and wait for them to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
