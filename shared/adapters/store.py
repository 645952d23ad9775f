"""Call state in Azure Table Storage: one partition per call, a main row and one row per event.

Round trips: recording a decision is one insert; applying callback events is one read and one
single-partition transaction (the main row under If-Match plus a create per event row, so a repeated
event fails the transaction and is recognised as a duplicate, atomically with the state change).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError, ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.domain.call import Call, EventRecord
from shared.domain.events import ResultInformation, parse_time
from shared.domain.operations import Operation
from shared.errors import ConcurrencyConflict, StoreUnavailable

TABLE_NAME = "calls"
MAIN_ROW = "call"
EVENT_PREFIX = "evt-"
SCHEMA = 1

T = TypeVar("T")


class CallExists(ConcurrencyConflict):
    """An insert found the call already stored (a callback raced ahead, or a redelivery)."""


class DuplicateEvent(Exception):
    """An event in the batch was stored before; `index` is its position in the batch."""

    def __init__(self, index: int) -> None:
        super().__init__(f"event {index} of the batch is already stored")
        self.index = index


@dataclass(frozen=True)
class Loaded:
    """A call as read, with the ETag that a conditional write must match."""

    call: Call
    etag: str


class CallStore(Protocol):
    """Where calls live; any process may read or write any call."""

    async def load(self, call_id: str) -> Loaded | None: ...

    async def load_with_events(self, call_id: str) -> tuple[Loaded, list[EventRecord]] | None: ...

    async def insert(self, call: Call) -> None:
        """Store a new call; CallExists if a row for it is there already."""

    async def save(self, call: Call, etag: str | None, events: list[EventRecord]) -> None:
        """Write the call (created when etag is None, else only if unchanged) with new event rows, atomically."""

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None) -> list[Call]: ...


def event_row_key(event_id: str) -> str:
    """RowKey of an event: a digest, since CloudEvent ids may hold characters RowKeys refuse."""
    return EVENT_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()[:40]


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _loads(value: Any) -> Any:
    return None if value in (None, "") else json.loads(value)


def _time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value, "stored time")


def call_to_entity(call: Call) -> dict[str, Any]:
    entity = {
        "PartitionKey": call.id,
        "RowKey": MAIN_ROW,
        "schema": SCHEMA,
        "callKey": call.call_key,
        "direction": call.direction,
        "state": call.state,
        "callConnectionId": call.call_connection_id,
        "serverCallId": call.server_call_id,
        "correlationId": call.correlation_id,
        "from": call.from_,
        "to": call.to,
        "callerDisplayName": call.caller_display_name,
        "decision": _dumps(call.decision),
        "participants": _dumps(list(call.participants)),
        "participantsSeq": call.participants_seq,
        "lastResult": _dumps(call.last_result),
        "error": _dumps(call.error),
        "startedAt": call.started_at.isoformat(),
        "updatedAt": call.updated_at.isoformat(),
        "endedAt": call.ended_at.isoformat() if call.ended_at else None,
        "eventCount": call.event_count,
        "operations": _dumps([op.to_dict() for op in call.operations]) if call.operations else None,
        "plan": _dumps(call.plan),
        "planState": _dumps(call.plan_state),
    }
    # Table Storage has no null: an absent property reads back as None.
    return {k: v for k, v in entity.items() if v is not None}


def entity_to_call(entity: dict[str, Any]) -> Call:
    return Call(
        id=entity["PartitionKey"],
        call_key=entity.get("callKey", ""),
        direction=entity.get("direction", "inbound"),
        state=entity.get("state", "connecting"),
        started_at=_time(entity.get("startedAt")),
        updated_at=_time(entity.get("updatedAt")),
        call_connection_id=entity.get("callConnectionId"),
        server_call_id=entity.get("serverCallId"),
        correlation_id=entity.get("correlationId"),
        from_=entity.get("from"),
        to=entity.get("to"),
        caller_display_name=entity.get("callerDisplayName"),
        decision=_loads(entity.get("decision")),
        participants=tuple(_loads(entity.get("participants")) or ()),
        participants_seq=entity.get("participantsSeq"),
        last_result=_loads(entity.get("lastResult")),
        error=_loads(entity.get("error")),
        ended_at=_time(entity.get("endedAt")),
        event_count=entity.get("eventCount", 0),
        operations=tuple(Operation.from_dict(op, _time) for op in _loads(entity.get("operations")) or ()),
        plan=_loads(entity.get("plan")),
        plan_state=_loads(entity.get("planState")),
    )


def event_to_entity(call_id: str, record: EventRecord) -> dict[str, Any]:
    entity = {
        "PartitionKey": call_id,
        "RowKey": event_row_key(record.id),
        "seq": record.seq,
        "eventId": record.id,
        "type": record.type,
        "time": record.time.isoformat(),
        "operationContext": record.operation_context,
        "result": _dumps(record.result.to_dict()) if record.result else None,
        "detail": _dumps(record.detail) if record.detail else None,
        "receivedAt": record.received_at.isoformat() if record.received_at else None,
    }
    return {k: v for k, v in entity.items() if v is not None}


def entity_to_event(entity: dict[str, Any]) -> EventRecord:
    result = _loads(entity.get("result"))
    return EventRecord(
        seq=entity.get("seq", 0),
        id=entity.get("eventId", ""),
        type=entity.get("type", ""),
        time=_time(entity.get("time")),
        operation_context=entity.get("operationContext"),
        result=ResultInformation(result.get("code"), result.get("subCode"), result.get("message")) if result else None,
        detail=_loads(entity.get("detail")) or {},
        received_at=_time(entity.get("receivedAt")),
    )


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    # 401/403 included: right after a deployment the identity's role assignment may not have spread yet,
    # and a retry later is what helps.
    return isinstance(exc, HttpResponseError) and (exc.status_code or 0) in (401, 403, 408, 429, 500, 502, 503, 504)


def _table_missing(exc: HttpResponseError) -> bool:
    return getattr(exc, "error_code", None) == "TableNotFound" or "TableNotFound" in str(exc)


class TableCallStore:
    """CallStore on azure-data-tables' async TableClient; creates its table on first need."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._table_ready = False
        self._create_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._table.close()

    async def _ensure_table(self) -> None:
        async with self._create_lock:
            if not self._table_ready:
                try:
                    await self._table.create_table()
                except ResourceExistsError:
                    pass
                self._table_ready = True

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run a storage operation; create the table if it is missing, and map outages to StoreUnavailable."""
        try:
            try:
                return await op()
            except (ResourceNotFoundError, TableTransactionError) as exc:
                if not _table_missing(exc):
                    raise
                await self._ensure_table()
                return await op()
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError, TableTransactionError):
            raise
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"Table Storage is unavailable: {type(exc).__name__} "
                                       f"{getattr(exc, 'status_code', '') or ''}".strip()) from exc
            raise

    async def load(self, call_id: str) -> Loaded | None:
        try:
            entity = await self._call(lambda: self._table.get_entity(call_id, MAIN_ROW))
        except ResourceNotFoundError:
            return None
        return Loaded(entity_to_call(entity), entity.metadata["etag"])

    async def load_with_events(self, call_id: str) -> tuple[Loaded, list[EventRecord]] | None:
        async def query() -> list[dict[str, Any]]:
            pager = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": call_id})
            return [entity async for entity in pager]

        try:
            rows = await self._call(query)
        except ResourceNotFoundError:
            return None
        main = next((row for row in rows if row["RowKey"] == MAIN_ROW), None)
        if main is None:
            return None
        events = sorted((entity_to_event(r) for r in rows if r["RowKey"].startswith(EVENT_PREFIX)), key=lambda e: e.seq)
        return Loaded(entity_to_call(main), main.metadata["etag"]), events

    async def insert(self, call: Call) -> None:
        entity = call_to_entity(call)
        try:
            await self._call(lambda: self._table.create_entity(entity))
        except ResourceExistsError as exc:
            raise CallExists(f"call {call.id} is already stored") from exc

    async def save(self, call: Call, etag: str | None, events: list[EventRecord]) -> None:
        main = call_to_entity(call)
        if etag is None:
            ops: list[Any] = [("create", main)]
        else:
            ops = [("update", main, {"mode": UpdateMode.REPLACE, "etag": etag,
                                     "match_condition": MatchConditions.IfNotModified})]
        ops.extend(("create", event_to_entity(call.id, record)) for record in events)
        try:
            await self._call(lambda: self._table.submit_transaction(ops))
        except TableTransactionError as exc:
            if exc.index >= 1 and exc.error_code == "EntityAlreadyExists":
                raise DuplicateEvent(exc.index - 1) from exc
            if exc.error_code in ("UpdateConditionNotSatisfied", "EntityAlreadyExists", "ResourceNotFound"):
                raise ConcurrencyConflict(f"call {call.id} changed under this write ({exc.error_code})") from exc
            if _unavailable(exc):
                raise StoreUnavailable(f"Table Storage is unavailable: {exc.error_code}") from exc
            raise

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None) -> list[Call]:
        # A scan of main rows: listing is an operator's view, not a hot path, and keeping a time index
        # would cost every call a second write. Filters run in the service.
        query = "RowKey eq @row"
        params: dict[str, Any] = {"row": MAIN_ROW}
        if state:
            query += " and state eq @state"
            params["state"] = state
        if direction:
            query += " and direction eq @direction"
            params["direction"] = direction

        async def scan() -> list[dict[str, Any]]:
            pager = self._table.query_entities(query, parameters=params, results_per_page=1000)
            return [entity async for entity in pager]

        try:
            rows = await self._call(scan)
        except ResourceNotFoundError:
            return []
        calls = sorted((entity_to_call(r) for r in rows), key=lambda c: c.started_at, reverse=True)
        return calls[:limit]
