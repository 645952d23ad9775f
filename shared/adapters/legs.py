"""Legs the app made without a custom header to mark them (RedirectCall and CreateCall carry no custom calling
context), by correlation id: one row per call in the calls table, beside the calls' own partitions.

A redirect writes its row before it is sent, so the IncomingCall it causes finds the row however fast it comes; the
row also counts the call's redirects (hops). A created call's row is written once ACS has named the correlation id.

Retention: the rows not written since a cutoff (`updatedAt`, the app's clock) are found by one filtered query over
the legs partitions (at most expiry.QUERY_REQUESTS requests for up to `limit` rows) and deleted one request each,
each under the ETag it was found with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.adapters import expiry
from shared.adapters.expiry import Expired, StoredRow
from shared.adapters.store import TableCallStore
from shared.errors import ConcurrencyConflict

LEGS_ROW = "legs"
LEGS_PREFIX = "legs-"
LEGS_RANGE_END = "legs."  # the first string after every "legs-..." key
MAX_EVENTS = 20


def legs_partition(correlation_id: str) -> str:
    """The row's partition: derived, so no wire characters reach a key, and apart from every call's partition."""
    return LEGS_PREFIX + hashlib.sha256(correlation_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Legs:
    """What the app did to one call (by correlation id) that ACS answers with an IncomingCall."""

    correlation_id: str
    hops: int = 0
    # IncomingCall event ids whose redirect counted a hop, so a redelivery counts once.
    events: tuple[str, ...] = ()
    # Raw ids the app sent this call to by redirect or CreateCall.
    targets: tuple[str, ...] = ()
    # When the row was last written, on the app's clock (retention deletes the rows not written for its period).
    updated_at: datetime | None = None


class TableLegStore:
    """Legs rows in the calls table (through the call store's client and its error mapping)."""

    def __init__(self, store: TableCallStore) -> None:
        self._store = store

    async def load(self, correlation_id: str) -> tuple[Legs, str] | None:
        table = self._store._table
        try:
            entity = await self._store._call(lambda: table.get_entity(legs_partition(correlation_id), LEGS_ROW))
        except ResourceNotFoundError:
            return None
        legs = Legs(correlation_id=correlation_id, hops=int(entity.get("hops", 0)),
                    events=tuple(json.loads(entity.get("events") or "[]")),
                    targets=tuple(json.loads(entity.get("targets") or "[]")), updated_at=entity.get("updatedAt"))
        return legs, entity.metadata["etag"]

    async def save(self, legs: Legs, etag: str | None) -> None:
        """Insert (etag None) or replace under If-Match; ConcurrencyConflict when another writer came first."""
        table = self._store._table
        entity = {"PartitionKey": legs_partition(legs.correlation_id), "RowKey": LEGS_ROW, "hops": legs.hops,
                  "events": json.dumps(list(legs.events[-MAX_EVENTS:])),
                  "targets": json.dumps(list(legs.targets[-MAX_EVENTS:])), "updatedAt": legs.updated_at}
        try:
            if etag is None:
                await self._store._call(lambda: table.create_entity(entity))
            else:
                await self._store._call(lambda: table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified))
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise ConcurrencyConflict(f"legs of {legs.correlation_id} changed under this write") from exc

    async def expired(self, before: datetime, limit: int) -> Expired:
        """Up to `limit` legs rows last written before `before`."""
        query = "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @row and updatedAt lt @before"
        params = {"lo": LEGS_PREFIX, "hi": LEGS_RANGE_END, "row": LEGS_ROW, "before": before}
        return await expiry.find(self._store._call, self._store._table, query, params, limit)

    async def purge(self, rows: list[StoredRow]) -> int:
        """Delete legs rows found expired, unless written since; safe to repeat and to run concurrently."""
        return await expiry.delete(self._store._call, self._store._table, rows)
