"""Waiting on what the app records, not on wall time: poll until a condition holds, and fail saying what was
awaited and what was last seen when the wait runs out (never carry on silently)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

# Generous: a loaded 2-core machine is slow, and a wait that holds returns as soon as it holds.
DEFAULT_TIMEOUT_S = 30.0


async def eventually(read: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], what: str,
                     timeout: float = DEFAULT_TIMEOUT_S, interval: float = 0.02) -> Any:
    """The first value of read() for which holds(value) is true; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if holds(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}; last seen: {value!r}"[:4000])
        await asyncio.sleep(interval)
