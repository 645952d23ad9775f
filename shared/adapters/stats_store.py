"""Daily figures in Table Storage: one row per UTC day, rule and shard, counted as calls are written.

PartitionKey is the day (`2026-12-02`), RowKey the rule (escaped) and a shard (0-3) so that concurrent calls of one
busy rule spread over four rows. Each count is a read-modify-write under the row's ETag; the last entity and ETag
this process wrote are kept (bounded), so a warm instance spends one conditional write per count, and a 412 means
another instance counted first: read and apply again. Within one process the counts of one row never race each other
to a 412: they take turns (a lock per row), and the counts that queued up while one write was in flight go together
in the next write. Reading N days is one range query over N partitions,
whatever the number of calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from datetime import date
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError, ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.domain.tally import FIGURES, Tally, bucket
from shared.errors import StoreUnavailable
from shared.adapters.row_cache import CallLocks
from shared.adapters.table_once import TableCreator

STATS_TABLE = "dailystats"
SHARDS = 4
MAX_ATTEMPTS = 8
_CACHE_ROWS = 256


def row_key(rule: str, shard: int) -> str:
    """Rule names may hold characters RowKeys refuse (/ \\ # ?): percent-escaped, long ones shortened + hashed."""
    escaped = quote(rule, safe="")
    if len(escaped) > 200:
        escaped = escaped[:180] + "~" + hashlib.sha256(rule.encode()).hexdigest()[:16]
    return f"{escaped}|{shard}"


def shard_of(call_id: str) -> int:
    return int(hashlib.sha256(call_id.encode()).hexdigest()[:4], 16) % SHARDS


class TableStatsStore:
    """The daily figures on azure-data-tables' async TableClient; creates its table on first need."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._creator = TableCreator(table)
        self._rows: OrderedDict[tuple[str, str], tuple[dict[str, Any], str]] = OrderedDict()
        self._turns = CallLocks()
        self._queued: dict[tuple[str, str], list[tuple[Tally, asyncio.Future[None]]]] = {}

    async def close(self) -> None:
        await self._table.close()

    async def _ensure_table(self) -> None:
        await self._creator.ensure()

    async def add(self, change: Tally, call_id: str) -> None:
        """Apply one tally to its day's row for its rule (a shard chosen by the call)."""
        key = (change.day.isoformat(), row_key(change.rule, shard_of(call_id)))
        waiting = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append((change, waiting))
        async with self._turns("|".join(key)):
            if waiting.done():  # counted by the write of a count queued with it
                return waiting.result()
            queued = self._queued.pop(key, [])
            others = [q for q in queued if q[1] is not waiting]
            try:
                await self._add(key, [c for c, _ in queued])
            except Exception as exc:
                for _, other in others:
                    if not other.done():
                        other.set_exception(exc)
                raise
            except BaseException:
                # Cancelled mid-write: the counts queued with this one go with the next writer's.
                self._queued.setdefault(key, [])[:0] = others
                raise
            for _, other in others:
                if not other.done():
                    other.set_result(None)

    async def _add(self, key: tuple[str, str], changes: list[Tally]) -> None:
        try:
            for _ in range(MAX_ATTEMPTS):
                cached = self._rows.get(key)
                entity, etag = cached if cached else await self._read(*key)
                entity = dict(entity) if entity else {"PartitionKey": key[0], "RowKey": key[1], "rule": changes[0].rule}
                for change in changes:
                    entity = _applied(entity, change)
                try:
                    if etag is None:
                        meta = await self._create(entity)
                    else:
                        meta = await self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                               match_condition=MatchConditions.IfNotModified)
                except (ResourceExistsError, ResourceModifiedError):
                    self._rows.pop(key, None)  # another instance counted first: read and apply again
                    continue
                self._remember(key, entity, meta["etag"])
                return
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            self._rows.pop(key, None)
            raise StoreUnavailable(f"daily figures: Table Storage is unavailable: {type(exc).__name__}") from exc
        raise StoreUnavailable(f"daily figures for {key[0]} kept changing under {MAX_ATTEMPTS} write attempts")

    async def _create(self, entity: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._table.create_entity(entity)
        except ResourceNotFoundError:
            await self._ensure_table()
            return await self._table.create_entity(entity)

    async def _read(self, day: str, row: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            entity = await self._table.get_entity(day, row)
        except ResourceNotFoundError:
            return None, None
        return dict(entity), entity.metadata["etag"]

    def _remember(self, key: tuple[str, str], entity: dict[str, Any], etag: str) -> None:
        self._rows[key] = (entity, etag)
        self._rows.move_to_end(key)
        while len(self._rows) > _CACHE_ROWS:
            self._rows.popitem(last=False)

    async def days(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every row from day `first` to day `last` inclusive: one range query."""
        query = "PartitionKey ge @first and PartitionKey le @last"
        params = {"first": first.isoformat(), "last": last.isoformat()}

        async def scan() -> list[dict[str, Any]]:
            pager = self._table.query_entities(query, parameters=params, results_per_page=1000)
            return [dict(entity) async for entity in pager]

        try:
            return await scan()
        except ResourceNotFoundError:
            return []
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise StoreUnavailable(f"daily figures: Table Storage is unavailable: {type(exc).__name__}") from exc


def _applied(entity: dict[str, Any], change: Tally) -> dict[str, Any]:
    for figure in FIGURES:
        entity[figure] = int(entity.get(figure, 0)) + change.get(figure)
    if change.answer_seconds is not None:
        times = json.loads(entity.get("answerTimes") or "{}")
        slot = bucket(change.answer_seconds)
        times[slot] = times.get(slot, 0) + 1
        entity["answerTimes"] = json.dumps(times, separators=(",", ":"), sort_keys=True)
    return entity
