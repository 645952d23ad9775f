"""Voicemails in Table Storage (table `voicemails`): the voicemail list, newest first, and the link from a
recording's server call id to its call (RecordingFileStatusUpdated names only the server call id).

Rows: PartitionKey `list`, RowKey the inverted start time of the call plus the call id (newest first; a redelivered
event writes the same row); PartitionKey `server-{digest of the server call id}`, RowKey `call`: the call's id and
when the call began (`startedAt`). Both kinds of row expire with their call, by when it began.
Listing N voicemails is one query of one partition.
Retention: the list rows of calls that began before a cutoff are the end of the list partition (one range query,
deleted in transactions of up to 100 rows); the links of such calls are found by one filtered query over the link
partitions and deleted one request each (expiry.py: at most expiry.QUERY_REQUESTS queries for up to `limit` rows).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from azure.core.exceptions import (
    HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.adapters import expiry
from shared.adapters.expiry import Expired, StoredRow
from shared.errors import StoreUnavailable
from shared.adapters.table_once import TableCreator

TABLE_NAME = "voicemails"
LIST_PARTITION = "list"
LINK_PREFIX = "server-"
LINK_RANGE_END = "server."  # the first string after every "server-..." key
LINK_ROW = "call"
_FIELDS = ("callId", "from", "to", "recordingId", "contentLocation", "metadataLocation", "durationMs",
           "recordingStartTime", "recordedAt")
_EPOCH_MS_LIMIT = 10 ** 14


class VoicemailStore(Protocol):
    async def link(self, server_call_id: str, call_id: str, started: datetime) -> None:
        """Keep the way from a recording's server call id to the call (which began at `started`)."""

    async def call_for(self, server_call_id: str) -> str | None: ...

    async def add(self, entry: dict[str, Any], started: datetime) -> None:
        """List a voicemail of a call that began at `started`."""

    async def newest(self, limit: int) -> list[dict[str, Any]]: ...

    async def expired(self, before: datetime, limit: int) -> Expired:
        """Up to `limit` list rows of voicemails whose call began before `before`, the oldest last."""

    async def expired_links(self, before: datetime, limit: int) -> Expired:
        """Up to `limit` links from a server call id to a call that began before `before`."""

    async def purge(self, rows: list[StoredRow]) -> int:
        """Delete rows found expired, unless written since; safe to repeat and to run concurrently."""


def _link_key(server_call_id: str) -> str:
    return LINK_PREFIX + hashlib.sha256(server_call_id.encode()).hexdigest()[:40]


def list_row_key(started: datetime, call_id: str) -> str:
    inverted = _EPOCH_MS_LIMIT - int(started.timestamp() * 1000)
    return f"{inverted:014d}-{hashlib.sha256(call_id.encode()).hexdigest()[:16]}"


class TableVoicemailStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._creator = TableCreator(table)

    async def close(self) -> None:
        await self._table.close()

    async def _ensure(self) -> None:
        await self._creator.ensure()

    async def _call(self, op):
        try:
            try:
                return await op()
            except ResourceNotFoundError as exc:
                if "TableNotFound" not in str(exc) and getattr(exc, "error_code", None) != "TableNotFound":
                    raise
                await self._ensure()
                return await op()
        except ResourceNotFoundError:
            raise
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise StoreUnavailable(f"Table Storage is unavailable: {type(exc).__name__}") from exc

    async def link(self, server_call_id: str, call_id: str, started: datetime) -> None:
        entity = {"PartitionKey": _link_key(server_call_id), "RowKey": LINK_ROW, "callId": call_id,
                  "startedAt": started}
        await self._call(lambda: self._table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    async def call_for(self, server_call_id: str) -> str | None:
        try:
            entity = await self._call(lambda: self._table.get_entity(_link_key(server_call_id), LINK_ROW))
        except ResourceNotFoundError:
            return None
        return entity.get("callId")

    async def add(self, entry: dict[str, Any], started: datetime) -> None:
        entity = {"PartitionKey": LIST_PARTITION, "RowKey": list_row_key(started, entry["callId"]),
                  **{k: v for k, v in entry.items() if v is not None}}
        await self._call(lambda: self._table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    async def newest(self, limit: int) -> list[dict[str, Any]]:
        async def query() -> list[dict[str, Any]]:
            pager = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": LIST_PARTITION},
                                               results_per_page=limit)
            rows = []
            async for page in pager.by_page():
                async for entity in page:
                    rows.append(entity)
                break  # one page: RowKeys sort newest first
            return rows

        try:
            rows = await self._call(query)
        except ResourceNotFoundError:
            return []
        return [{k: row.get(k) for k in _FIELDS} for row in rows[:limit]]

    async def expired(self, before: datetime, limit: int) -> Expired:
        # Older calls sort after newer ones: every key from the first call that began before `before` on.
        first = f"{_EPOCH_MS_LIMIT - int(before.timestamp() * 1000) + 1:014d}"
        return await expiry.find(self._call, self._table, "PartitionKey eq @pk and RowKey ge @first",
                                 {"pk": LIST_PARTITION, "first": first}, limit)

    async def expired_links(self, before: datetime, limit: int) -> Expired:
        query = "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @row and startedAt lt @before"
        params = {"lo": LINK_PREFIX, "hi": LINK_RANGE_END, "row": LINK_ROW, "before": before}
        return await expiry.find(self._call, self._table, query, params, limit)

    async def purge(self, rows: list[StoredRow]) -> int:
        return await expiry.delete(self._call, self._table, rows)
