"""Retention: what is older than CALL_RETENTION_DAYS is deleted, a bounded number of rows per run.

- Calls that began before the cutoff, every row of them: each run lists the oldest expired calls and deletes each
  one's rows (pages and pointer first, the main row last, so that a run cut short leaves the call findable by the
  next run).
- Legs rows (the app's redirects and created calls, by correlation id) not written since the cutoff.
- Voicemails of calls that began before the cutoff: their list rows, and the links from a recording's server call
  id to its call (both keyed or stamped with the call's start, so they go with the call).

Safe to run twice or at once from several instances: a row another run deleted first is no error, and a row
written again after it was found expired is left alone (for the next run, if still expired).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from shared.adapters.expiry import Expired, StoredRow
from shared.bootstrap import Services

log = logging.getLogger("callsteer")
# Per run and per kind of row: at most BATCHES lists of BATCH (the timer runs every 10 minutes: up to 72,000 calls
# a day, and as many legs rows, voicemails and recording links).
BATCH = 50
BATCHES = 10


@dataclass(frozen=True)
class Purged:
    calls: int
    rows: int  # rows of those calls
    more: bool  # expired rows were left for the next run
    legs: int = 0  # legs rows
    voicemails: int = 0  # rows of the voicemail list
    links: int = 0  # links from a recording to its call


async def purge_expired(services: Services) -> Purged:
    """Delete what is older than CALL_RETENTION_DAYS, at most BATCH x BATCHES of each kind of row."""
    cutoff = services.clock() - timedelta(days=services.settings.retention_days)
    calls, rows, more = await _purge_calls(services, cutoff)
    legs = voicemails = links = 0
    if services.legs is not None:
        legs, left = await _sweep(services.legs.expired, services.legs.purge, cutoff)
        more = more or left
    if services.voicemails is not None:
        voicemails, left = await _sweep(services.voicemails.expired, services.voicemails.purge, cutoff)
        links, left_links = await _sweep(services.voicemails.expired_links, services.voicemails.purge, cutoff)
        more = more or left or left_links
    log.info("retention: deleted %d calls (%d rows), %d legs rows, %d voicemails, %d recording links older than "
             "%s%s", calls, rows, legs, voicemails, links, cutoff.isoformat(),
             "; more are left for the next run" if more else "")
    return Purged(calls, rows, more, legs, voicemails, links)


async def _purge_calls(services: Services, cutoff: datetime) -> tuple[int, int, bool]:
    calls = deleted = 0
    for _ in range(BATCHES):
        expired = await services.store.expired(cutoff, BATCH)
        for partition, call_id in expired:
            deleted += await services.store.purge(partition, call_id)
            calls += 1
        if len(expired) < BATCH:
            return calls, deleted, False
    return calls, deleted, bool(await services.store.expired(cutoff, 1))


async def _sweep(expired: Callable[[datetime, int], Awaitable[Expired]],
                 purge: Callable[[list[StoredRow]], Awaitable[int]], cutoff: datetime) -> tuple[int, bool]:
    """Delete expired rows of one kind, BATCH at a time; (rows deleted, whether some were left)."""
    deleted = 0
    for _ in range(BATCHES):
        found = await expired(cutoff, BATCH)
        deleted += await purge(found.rows)
        # Nothing found, though Table Storage stopped early: asking again from the start would read the same.
        if not found.more or not found.rows:
            return deleted, found.more
    return deleted, (await expired(cutoff, 1)).more
