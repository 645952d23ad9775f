"""Retention: calls older than CALL_RETENTION_DAYS are deleted, every row of them, a bounded number per run.

Safe to run twice or at once from several instances: each run lists the oldest expired calls and deletes each one's
rows (pages and pointer first, the main row last, so that a run cut short leaves the call findable by the next run);
a row another run deleted first is no error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.bootstrap import Services

log = logging.getLogger("callsteer")
# Per run: at most BATCHES lists of BATCH calls (the timer runs every 10 minutes: up to 72,000 calls a day).
BATCH = 50
BATCHES = 10


@dataclass(frozen=True)
class Purged:
    calls: int
    rows: int
    more: bool  # expired calls were left for the next run


async def purge_expired(services: Services) -> Purged:
    """Delete the calls that began more than CALL_RETENTION_DAYS ago, at most BATCH x BATCHES of them."""
    cutoff = services.clock() - timedelta(days=services.settings.retention_days)
    calls = deleted = 0
    for _ in range(BATCHES):
        expired = await services.store.expired(cutoff, BATCH)
        for partition, call_id in expired:
            deleted += await services.store.purge(partition, call_id)
            calls += 1
        if len(expired) < BATCH:
            break
    else:
        more = bool(await services.store.expired(cutoff, 1))
        log.info("retention: deleted %d calls (%d rows) older than %s; more are left for the next run", calls,
                 deleted, cutoff.isoformat())
        return Purged(calls, deleted, more)
    log.info("retention: deleted %d calls (%d rows) older than %s", calls, deleted, cutoff.isoformat())
    return Purged(calls, deleted, False)
