"""Daily figures in Table Storage: one row per UTC day, rule and shard, counted as calls are written.

PartitionKey is the day (`2026-12-02`), RowKey the rule (escaped) and a shard (0-3) so that concurrent calls of one
busy rule spread over four rows. Each count is a read-modify-write under the row's ETag; the last entity and ETag
this process wrote are kept (bounded), so a warm instance spends one conditional write per count, and a 412 means
another instance counted first: read and apply again. Reading N days is one range query over N partitions,
whatever the number of calls.
"""

from __future__ import annotations

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

    async def close(self) -> None:
        await self._table.close()

    async def _ensure_table(self) -> None:
        await self._creator.ensure()

    async def add(self, change: Tally, call_id: str) -> None:
        """Apply one tally to its day's row for its rule (a shard chosen by the call)."""
        key = (change.day.isoformat(), row_key(change.rule, shard_of(call_id)))
        try:
            for _ in range(MAX_ATTEMPTS):
                cached = self._rows.get(key)
                entity, etag = cached if cached else await self._read(*key)
                entity = _applied(dict(entity) if entity else {"PartitionKey": key[0], "RowKey": key[1],
                                                               "rule": change.rule}, change)
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
