"""Call state in Azure Table Storage: one partition per call, keyed by when it began (see call_rows.py).

Round trips (counted by the benchmark):
- a new call: one insert of its main row, and, for a call with a connection id, one insert of the pointer row that
  finds it by that id (sent at the same time);
- a callback event: one transaction (the main row replaced under If-Match, with the event in its log), and a point
  read first only when this process did not write or read the call's latest row itself (a cached ETag that is out
  of date costs a 412, a read and a second write);
- listing a page: one query over the main rows in key order (two at most, see list_calls);
- reading one call: one query of its partition (and a pointer read when it is named by connection id and this
  process has not seen it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from azure.core.exceptions import (
    HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError, ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableTransactionError
from azure.data.tables.aio import TableClient

from shared.adapters import call_rows as rows
from shared.adapters import expiry, table_batch
from shared.adapters.table_batch import TransactionFailed
from shared.adapters.row_cache import CallLocks, RowCache
from shared.domain.call import Call, EventRecord
from shared.domain.operations import Operation
from shared.errors import CallsteerError, ConcurrencyConflict, StoreUnavailable, ValidationError
from shared.adapters.table_once import TableCreator

TABLE_NAME = "calls"
MAIN_ROW = rows.MAIN_ROW
# Listing reads at most this many pages from Table Storage for one page of the API (see list_calls).
LIST_REQUESTS = 2
_KEY_FORM = re.compile(r"[io][a-z0-9]{15,63}")

T = TypeVar("T")


class CallExists(ConcurrencyConflict):
    """An insert found the call already stored (a callback raced ahead, or a redelivery)."""


class DuplicateEvent(Exception):
    """An event in the batch was applied before; `index` is its position in the batch."""

    def __init__(self, index: int) -> None:
        super().__init__(f"event {index} of the batch is already stored")
        self.index = index


class IdTaken(CallsteerError):
    """A call connection id is already the id of another call (another call key)."""


@dataclass(frozen=True)
class Loaded:
    """A call as read, with the ETag that a conditional write must match (and the row it came from)."""

    call: Call
    etag: str
    row: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # True when it came from this process's cache: a write proves it current (or answers 412), a refusal does not.
    cached: bool = False


@dataclass(frozen=True)
class Found:
    """A call read whole: its main row, its whole event log, and the operations moved out of the main row."""

    loaded: Loaded
    events: list[EventRecord]
    archived: tuple[Operation, ...] = ()

    @property
    def operations(self) -> tuple[Operation, ...]:
        return self.archived + self.loaded.call.operations


@dataclass(frozen=True)
class Page:
    calls: list[Call]
    next: str | None
    # Per call: False when older operations were moved out of its main row (the listing shows the recent ones).
    operations_complete: list[bool] = field(default_factory=list)


class CallStore(Protocol):
    """Where calls live; any process may read or write any call."""

    async def load(self, call_id: str, call_key: str | None = None, fresh: bool = False) -> Loaded | None:
        """The call's main row for a read-modify-write (from this process's cache unless `fresh`)."""

    async def load_with_events(self, call_id: str, call_key: str | None = None) -> Found | None: ...

    async def insert(self, call: Call) -> None:
        """Store a new call; CallExists if a row for it is there already."""

    async def save(self, call: Call, loaded: Loaded | None, events: list[EventRecord]) -> None:
        """Write the call (created when `loaded` is None, else only if unchanged since) with its new events,
        atomically; DuplicateEvent if one of them was applied before."""

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None,
                         cursor: str | None = None) -> Page: ...

    async def expired(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` calls that began before `before`, oldest last: (partition, call id)."""

    async def purge(self, partition: str, call_id: str) -> int:
        """Delete every row of one call (its pointer too); safe to repeat and to run concurrently."""

    def writer(self, call_id: str) -> Any:
        """A lock to hold around one read-modify-write of the call, so that this process's writers take turns."""


def encode_cursor(partition: str, inclusive: bool = False) -> str:
    raw = json.dumps({"f" if inclusive else "a": partition}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[str, bool]:
    """(partition, inclusive) of a listing cursor; ValidationError for anything this app did not make."""
    try:
        if len(cursor) > 400:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        (kind, partition), = data.items()
        if kind not in ("a", "f") or not isinstance(partition, str) or not rows.is_partition_key(partition) \
                or len(partition) > 200:
            raise ValueError
        return partition, kind == "f"
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
        raise ValidationError("cursor is not a cursor this API returned (take it from `next`)", field="cursor") \
            from None


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    # 401/403 included: right after a deployment the identity's role assignment may not have spread yet,
    # and a retry later is what helps.
    return isinstance(exc, HttpResponseError) and (exc.status_code or 0) in (401, 403, 408, 429, 500, 502, 503, 504)


def _table_missing(exc: Exception) -> bool:
    """A 404 for the table, not for an entity (Azurite answers a missing table with a bare 404, no error code)."""
    if isinstance(exc, TransactionFailed):
        return exc.error_code == "TableNotFound" or (exc.status == 404 and not exc.error_code)
    code = getattr(exc, "error_code", None)
    if code == "TableNotFound" or "TableNotFound" in str(exc):
        return True
    return getattr(exc, "status_code", None) == 404 and not code and "ResourceNotFound" not in str(exc)


class TableCallStore:
    """CallStore on azure-data-tables' async TableClient; creates its table on first need."""

    def __init__(self, table: TableClient, cache: RowCache | None = None) -> None:
        self._table = table
        self._creator = TableCreator(table)
        self.cache = cache if cache is not None else RowCache()
        # Held around each read-modify-write of a call by the handlers (see CallStore.writer).
        self.writer = CallLocks()

    async def close(self) -> None:
        await self._table.close()

    async def _ensure_table(self) -> None:
        await self._creator.ensure()

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run a storage operation; create the table if it is missing, and map outages to StoreUnavailable."""
        try:
            try:
                return await op()
            except (HttpResponseError, TableTransactionError, TransactionFailed) as exc:
                if not _table_missing(exc):
                    raise
                await self._ensure_table()
                return await op()
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError, TableTransactionError,
                TransactionFailed):
            raise
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"Table Storage is unavailable: {type(exc).__name__} "
                                       f"{getattr(exc, 'status_code', '') or ''}".strip()) from exc
            raise

    # ---- finding a call ----------------------------------------------------------------------------------------

    async def _partition(self, call_id: str, call_key: str | None) -> str | None:
        """The partition of a call named by its key, its partition key, or its id (a pointer read, then cached)."""
        if call_key:
            return rows.partition_for(call_key)
        if rows.is_partition_key(call_id):
            return call_id
        known = self.cache.partition(call_id)
        if known:
            return known
        if _KEY_FORM.fullmatch(call_id):
            # Calls never connected (rejected, redirected) are named by their call key.
            return rows.partition_for(call_id)
        return await self._pointer(call_id)

    async def _pointer(self, call_id: str) -> str | None:
        try:
            ref = await self._call(lambda: self._table.get_entity(rows.pointer_key(call_id), rows.POINTER_ROW))
        except ResourceNotFoundError:
            return None
        partition = ref.get("pk")
        if partition:
            self.cache.remember_partition(call_id, partition)
        return partition

    async def _claim_id(self, call: Call, partition: str) -> None:
        """Make the call findable by its id (a connection id): a pointer row, written once."""
        if call.id == call.call_key or self.cache.partition(call.id) == partition:
            return
        pointer = {"PartitionKey": rows.pointer_key(call.id), "RowKey": rows.POINTER_ROW, "pk": partition}
        try:
            await self._call(lambda: self._table.create_entity(pointer))
        except ResourceExistsError:
            existing = await self._pointer(call.id)
            if existing != partition:
                raise IdTaken(f"connection id {call.id} already belongs to another call") from None
        self.cache.remember_partition(call.id, partition)

    # ---- reads ---------------------------------------------------------------------------------------------------

    async def load(self, call_id: str, call_key: str | None = None, fresh: bool = False) -> Loaded | None:
        if not fresh:
            cached = self.cache.get(call_id)
            if cached is not None and (call_key is None or cached.partition == rows.partition_for(call_key)):
                return Loaded(cached.call, cached.etag, cached.entity, cached=True)
        partition = await self._partition(call_id, call_key)
        if partition is None:
            return None
        try:
            entity = await self._call(lambda: self._table.get_entity(partition, MAIN_ROW))
        except ResourceNotFoundError:
            if call_key is None and _KEY_FORM.fullmatch(call_id) and not rows.is_partition_key(call_id):
                return await self._load_by_pointer(call_id)
            return None
        return self._remember(entity)

    async def _load_by_pointer(self, call_id: str) -> Loaded | None:
        partition = await self._pointer(call_id)
        if partition is None:
            return None
        try:
            entity = await self._call(lambda: self._table.get_entity(partition, MAIN_ROW))
        except ResourceNotFoundError:
            return None
        return self._remember(entity)

    def _remember(self, entity: Any) -> Loaded:
        row = dict(entity)
        call = rows.entity_to_call(row)
        etag = entity.metadata["etag"]
        self.cache.put(call.id, row["PartitionKey"], row, etag, call)
        return Loaded(call, etag, row)

    async def load_with_events(self, call_id: str, call_key: str | None = None) -> Found | None:
        partition = await self._partition(call_id, call_key)
        found = await self._read_partition(partition) if partition else None
        if found is None and call_key is None and _KEY_FORM.fullmatch(call_id):
            partition = await self._pointer(call_id)
            found = await self._read_partition(partition) if partition else None
        return found

    async def _read_partition(self, partition: str) -> Found | None:
        async def query() -> list[Any]:
            pager = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
            return [entity async for entity in pager]

        try:
            entities = await self._call(query)
        except ResourceNotFoundError:
            return None
        main_entity = next((e for e in entities if e["RowKey"] == MAIN_ROW), None)
        if main_entity is None:
            return None
        main, events, archived = rows.partition_contents([dict(e) for e in entities])
        loaded = self._remember(main_entity)
        return Found(loaded, events, archived)

    # ---- writes --------------------------------------------------------------------------------------------------

    async def insert(self, call: Call) -> None:
        layout = rows.layout(call, None, [])
        partition = layout.main["PartitionKey"]

        async def create() -> Any:
            return await self._call(lambda: self._table.create_entity(layout.main))

        # The pointer and the main row go at the same time (one round trip of latency). If the pointer fails, the
        # insert is reported failed and its repeat (a redelivery) writes it; a pointer alone names nothing.
        claimed, created = await asyncio.gather(self._claim_id(call, partition), create(), return_exceptions=True)
        for outcome in (claimed, created):
            if isinstance(outcome, StoreUnavailable):
                raise outcome
        if isinstance(claimed, BaseException):
            raise claimed
        if isinstance(created, ResourceExistsError):
            raise CallExists(f"call {call.id} is already stored") from created
        if isinstance(created, BaseException):
            raise created
        self.cache.put(call.id, partition, layout.main, created["etag"], layout.stored)

    async def save(self, call: Call, loaded: Loaded | None, events: list[EventRecord]) -> None:
        base = loaded.row if loaded is not None else None
        if events:
            seen = rows.seen_digests(base)
            for index, record in enumerate(events):
                digest = rows.event_digest(record.id)
                if digest in seen:
                    raise DuplicateEvent(index)
                seen.add(digest)
        layout = rows.layout(call, base, events)
        partition = layout.main["PartitionKey"]
        if loaded is None:
            await self._claim_id(call, partition)
            ops: list[Any] = [("create", layout.main)]
        else:
            ops = [("update", layout.main, {"etag": loaded.etag})]
        ops.extend(("create", page) for page in layout.pages)
        try:
            etags = await self._call(lambda: table_batch.submit(self._table, ops))
        except TransactionFailed as exc:
            self.cache.forget(call.id)
            if exc.error_code in ("UpdateConditionNotSatisfied", "EntityAlreadyExists", "ResourceNotFound") \
                    or exc.status in (404, 409, 412):
                raise ConcurrencyConflict(f"call {call.id} changed under this write ({exc.error_code})") from exc
            if exc.status in (408, 429, 500, 502, 503, 504):
                raise StoreUnavailable(f"Table Storage is unavailable: {exc.error_code or exc.status}") from exc
            raise
        except BaseException:
            self.cache.forget(call.id)
            raise
        self.cache.put(call.id, partition, layout.main, etags[0], layout.stored)

    # ---- the listing and retention -------------------------------------------------------------------------------

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None,
                         cursor: str | None = None) -> Page:
        """One page of calls, newest first: a range query over the main rows in partition-key order.

        At most LIST_REQUESTS queries, whatever the table holds: Table Storage may end a query's page early (at a
        partition server's boundary, after 5 s, or past 1,000 rows); the API's page then holds what came, and
        `next` resumes where Table Storage stopped. With a filter, the rows Table Storage skips are read on its
        side, not here.
        """
        start, inclusive = decode_cursor(cursor) if cursor else (rows.CALL_PREFIX, False)
        query = f"PartitionKey {'ge' if inclusive else 'gt'} @lo and PartitionKey lt @hi and RowKey eq @row"
        params: dict[str, Any] = {"lo": start, "hi": rows.CALL_RANGE_END, "row": MAIN_ROW}
        if state:
            query += " and state eq @state"
            params["state"] = state
        if direction:
            query += " and direction eq @direction"
            params["direction"] = direction

        async def pages() -> tuple[list[Any], Any]:
            found: list[Any] = []
            pager = self._table.query_entities(query, parameters=params, results_per_page=limit,
                                               select=rows.SUMMARY_COLUMNS).by_page()
            for _ in range(LIST_REQUESTS):
                try:
                    page = await pager.__anext__()
                except StopAsyncIteration:
                    return found, None
                found.extend([entity async for entity in page])
                if len(found) >= limit or not pager.continuation_token:
                    break
            return found, pager.continuation_token

        try:
            found, continuation = await self._call(pages)
        except ResourceNotFoundError:
            return Page([], None)
        calls = [rows.entity_to_call(dict(e)) for e in found[:limit]]
        complete = [not e.get("opsPages") for e in found[:limit]]
        if len(found) >= limit:
            next_cursor = encode_cursor(found[limit - 1]["PartitionKey"])
        elif continuation and continuation.get("PartitionKey"):
            next_cursor = encode_cursor(continuation["PartitionKey"], inclusive=True)
        else:
            next_cursor = None
        return Page(calls, next_cursor, complete)

    async def expired(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        query = "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @row"
        params = {"lo": rows.partition_before(before), "hi": rows.CALL_RANGE_END, "row": MAIN_ROW}

        async def page() -> list[Any]:
            pager = self._table.query_entities(query, parameters=params, results_per_page=limit,
                                               select=["PartitionKey", "id"]).by_page()
            try:
                first = await pager.__anext__()
            except StopAsyncIteration:
                return []
            return [entity async for entity in first]

        try:
            found = await self._call(page)
        except ResourceNotFoundError:
            return []
        return [(e["PartitionKey"], e.get("id") or e["PartitionKey"]) for e in found[:limit]]

    async def purge(self, partition: str, call_id: str) -> int:
        """Delete a call's pages, its pointer, then its main row (last: a run cut short leaves it findable)."""

        async def keys() -> list[str]:
            pager = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": partition},
                                               select=["PartitionKey", "RowKey"])
            return [entity["RowKey"] async for entity in pager]

        try:
            row_keys = await self._call(keys)
        except ResourceNotFoundError:
            return 0
        # Whatever they hold now (`*`): in transactions of 100, one by one where another run deleted some first.
        await expiry.delete(self._call, self._table,
                            [expiry.StoredRow(partition, k, "*") for k in row_keys if k != MAIN_ROW])
        if call_id != partition and not _KEY_FORM.fullmatch(call_id):
            await self._call(lambda: self._table.delete_entity(rows.pointer_key(call_id), rows.POINTER_ROW))
        if MAIN_ROW in row_keys:
            await self._call(lambda: self._table.delete_entity(partition, MAIN_ROW))
        self.cache.forget(call_id)
        return len(row_keys) + (0 if _KEY_FORM.fullmatch(call_id) else 1)
