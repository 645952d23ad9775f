"""Finding and deleting expired rows for retention, shared by the legs and voicemail stores.

A query reads the keys and ETags of at most `limit` rows in at most QUERY_REQUESTS requests, whatever the table
holds (Table Storage may end a filtered query's page early, even empty, and hands back a continuation: what is
left is reported as `more`, for the next run). A delete is conditional on the ETag the query read, so a row
written again since (no longer expired) is kept; a row already deleted by another run is no error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.adapters import table_batch
from shared.adapters.table_batch import TransactionFailed

QUERY_REQUESTS = 2
TRANSACTION = 100  # operations in one entity-group transaction (Table Storage's limit)

Run = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


@dataclass(frozen=True)
class StoredRow:
    """One row found expired, with the ETag it had when found."""

    partition: str
    row: str
    etag: str


@dataclass(frozen=True)
class Expired:
    rows: list[StoredRow]
    more: bool  # expired rows may be left beyond these (the limit was reached, or Table Storage stopped early)


async def find(run: Run, table: Any, query: str, params: dict[str, Any], limit: int) -> Expired:
    """Up to `limit` rows matching `query`, in at most QUERY_REQUESTS requests."""

    async def pages() -> tuple[list[StoredRow], bool]:
        pager = table.query_entities(query, parameters=params, results_per_page=limit,
                                     select=["PartitionKey", "RowKey"]).by_page()
        found: list[StoredRow] = []
        for _ in range(QUERY_REQUESTS):
            try:
                page = await pager.__anext__()
            except StopAsyncIteration:
                return found, False
            found.extend([StoredRow(e["PartitionKey"], e["RowKey"], e.metadata["etag"]) async for e in page])
            if len(found) >= limit or not pager.continuation_token:
                break
        return found, bool(pager.continuation_token)

    try:
        found, left = await run(pages)
    except ResourceNotFoundError:
        return Expired([], False)
    return Expired(found[:limit], left or len(found) >= limit)


async def delete(run: Run, table: Any, rows: list[StoredRow]) -> int:
    """Delete the rows unless written since they were found: rows of one partition in transactions of up to 100,
    one by one when a transaction is refused (another run deleted one first). The rows gone (or found gone)."""
    by_partition: dict[str, list[StoredRow]] = defaultdict(list)
    for row in rows:
        by_partition[row.partition].append(row)
    gone = 0
    for partition, own in by_partition.items():
        for start in range(0, len(own), TRANSACTION):
            chunk = own[start:start + TRANSACTION]
            if len(chunk) > 1:
                ops = [("delete", {"PartitionKey": r.partition, "RowKey": r.row}, {"etag": r.etag}) for r in chunk]
                try:
                    await run(lambda ops=ops: table_batch.submit(table, ops))
                    gone += len(chunk)
                    continue
                except TransactionFailed:
                    pass
            for row in chunk:
                gone += await run(lambda row=row: _delete_one(table, row))
    return gone


async def _delete_one(table: Any, row: StoredRow) -> int:
    try:
        # The SDK treats a 404 (deleted by another run) as done.
        await table.delete_entity(row.partition, row.row, etag=row.etag, match_condition=MatchConditions.IfNotModified)
    except ResourceModifiedError:
        return 0  # written again since it was found: no longer expired, or the next run's
    return 1
