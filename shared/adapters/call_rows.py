"""How a call is laid out in Table Storage rows, within Table Storage's limits. Pure: no I/O.

One partition per call, keyed by when the call began (inverted, so that newer calls sort first) and its call key:
`call-{9999999999999 - ms}-{callKey}`. The partition holds:

- the main row (`call`): the call's state, its recent event log (`log`) and the digests of the event ids it has
  applied (`seen`, for recognising repeats), and its recent operations. The main rows, in partition-key order, are
  the listing index: a call appears once, with its current state, and costs no write beyond its own;
- event log pages (`log-{first seq:08d}`): older events moved out of the main row, never changed again;
- operation pages (`ops-{n:06d}`): older finished operations moved out of the main row, never changed again.

A pointer row `ref-{callConnectionId}` / `ref` names the partition of a call by its connection id (written once,
never changed). Limits of Table Storage respected here: a string property holds at most 32K characters (a longer
JSON value is split over numbered properties), an entity at most 1 MiB (UTF-16: a budget of MAIN_ROW_BUDGET
characters per row, with the older log and operations moved to their own rows), at most 255 properties.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Iterable

from shared.domain.call import Call, EventRecord
from shared.domain.callback_tokens import call_key_millis
from shared.domain.events import ResultInformation, parse_time
from shared.domain.operations import Operation
from shared.errors import PayloadTooLarge

SCHEMA = 2
MAIN_ROW = "call"
POINTER_ROW = "ref"
CALL_PREFIX = "call-"
CALL_RANGE_END = "call."  # the first string after every "call-..." key
POINTER_PREFIX = "ref-"
LOG_PAGE_PREFIX = "log-"
OPS_PAGE_PREFIX = "ops-"
LEGACY_EVENT_PREFIX = "evt-"
_MAX_MILLIS = 9_999_999_999_999

# Table Storage: 32K characters (64 KiB) per string property; 1 MiB per entity, counted in UTF-16 (2 bytes a
# character) with the names and overhead; 255 properties.
CHUNK = 30_000
MAIN_ROW_BUDGET = 400_000
PAGE_BUDGET = 400_000
# Every write of a call rewrites its main row: its recent log and operations are kept short.
LOG_INLINE_BUDGET = 16_000      # the main row's recent log moves to a page past this size...
LOG_INLINE_EVENTS = 8           # ...or this many events
OPS_INLINE_BUDGET = 24_000      # finished operations move to a page past this size...
OPS_INLINE_COUNT = 32           # ...or this many operations in all
PARTICIPANTS_BUDGET = 200_000   # one participant list (the latest ParticipantsUpdated)
SEEN_KEPT = 2_000               # repeats are recognised among a call's last 2,000 events
_DIGEST = 12                    # base64 characters of an event id's digest (72 bits)

# What the listing reads of each main row (the API's summary of a call). The recent operations (at most
# OPS_INLINE_COUNT, within OPS_INLINE_BUDGET: one property, never split) come with it.
SUMMARY_COLUMNS = ["PartitionKey", "id", "callKey", "direction", "state", "callConnectionId", "serverCallId",
                   "correlationId", "from", "to", "callerDisplayName", "decision", "lastResult", "error", "startedAt",
                   "updatedAt", "endedAt", "eventCount", "operations", "opsPages"]


def partition_for(call_key: str) -> str:
    """The partition of a call: newest first, then by key."""
    inverted = _MAX_MILLIS - min(call_key_millis(call_key), _MAX_MILLIS)
    return f"{CALL_PREFIX}{inverted:013d}-{call_key}"


def partition_before(when: datetime) -> str:
    """The smallest partition key of a call that began at or before `when` (older calls sort after it)."""
    inverted = _MAX_MILLIS - min(max(0, int(when.timestamp() * 1000)), _MAX_MILLIS)
    return f"{CALL_PREFIX}{inverted:013d}-"


def pointer_key(call_id: str) -> str:
    return POINTER_PREFIX + call_id


def is_partition_key(value: str) -> bool:
    return value.startswith(CALL_PREFIX) and len(value) > len(CALL_PREFIX) + 14 and value[len(CALL_PREFIX):][:13].isdigit()


def event_digest(event_id: str) -> str:
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest).decode()[:_DIGEST]


# ---- values that may pass one property's limit ------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def put_text(entity: dict[str, Any], name: str, text: str | None) -> None:
    """Store a string under `name`, split over `name`, `name_1`, ... (count in `name_n`) past one property's limit."""
    if text is None:
        return
    if len(text) <= CHUNK:
        entity[name] = text
        return
    parts = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    entity[name] = parts[0]
    for n, part in enumerate(parts[1:], start=1):
        entity[f"{name}_{n}"] = part
    entity[f"{name}_n"] = len(parts)


def get_text(entity: dict[str, Any], name: str) -> str | None:
    first = entity.get(name)
    if first in (None, ""):
        return None
    count = entity.get(f"{name}_n") or 1
    return first + "".join(entity.get(f"{name}_{n}", "") for n in range(1, count))


def put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        put_text(entity, name, _dumps(value))


def get_json(entity: dict[str, Any], name: str) -> Any:
    text = get_text(entity, name)
    return None if text is None else json.loads(text)


def entity_chars(entity: dict[str, Any]) -> int:
    """The characters an entity holds (names and string values; numbers count a few)."""
    return sum(len(k) + (len(v) if isinstance(v, str) else 8) for k, v in entity.items())


def _time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value, "stored time")


# ---- events ----------------------------------------------------------------------------------------------------


def event_to_dict(record: EventRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": record.seq, "id": record.id, "type": record.type, "time": record.time.isoformat()}
    if record.operation_context:
        entry["ctx"] = record.operation_context
    if record.result:
        entry["result"] = record.result.to_dict()
    if record.detail:
        entry["detail"] = record.detail
    if record.received_at:
        entry["receivedAt"] = record.received_at.isoformat()
    return entry


def event_from_dict(entry: dict[str, Any]) -> EventRecord:
    result = entry.get("result")
    return EventRecord(
        seq=entry.get("seq", 0), id=entry.get("id", ""), type=entry.get("type", ""), time=_time(entry.get("time")),
        operation_context=entry.get("ctx"),
        result=ResultInformation(result.get("code"), result.get("subCode"), result.get("message")) if result else None,
        detail=entry.get("detail") or {}, received_at=_time(entry.get("receivedAt")))


def legacy_event(entity: dict[str, Any]) -> EventRecord:
    """An event row of the first layout (one row per event)."""
    result = json.loads(entity["result"]) if entity.get("result") else None
    return EventRecord(
        seq=entity.get("seq", 0), id=entity.get("eventId", ""), type=entity.get("type", ""),
        time=_time(entity.get("time")), operation_context=entity.get("operationContext"),
        result=ResultInformation(result.get("code"), result.get("subCode"), result.get("message")) if result else None,
        detail=json.loads(entity["detail"]) if entity.get("detail") else {}, received_at=_time(entity.get("receivedAt")))


# ---- the main row ----------------------------------------------------------------------------------------------


def call_fields(call: Call) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "schema": SCHEMA,
        "id": call.id,
        "callKey": call.call_key,
        "direction": call.direction,
        "state": call.state,
        "callConnectionId": call.call_connection_id,
        "serverCallId": call.server_call_id,
        "correlationId": call.correlation_id,
        "from": call.from_,
        "to": call.to,
        "callerDisplayName": call.caller_display_name,
        "participantsSeq": call.participants_seq,
        "startedAt": call.started_at.isoformat(),
        "updatedAt": call.updated_at.isoformat(),
        "endedAt": call.ended_at.isoformat() if call.ended_at else None,
        "eventCount": call.event_count,
    }
    entity = {k: v for k, v in entity.items() if v is not None}
    for name, value in (("decision", call.decision), ("lastResult", call.last_result), ("error", call.error),
                        ("plan", call.plan), ("planState", call.plan_state)):
        put_json(entity, name, value)
    if call.participants:
        text = _dumps(list(call.participants))
        if len(text) > PARTICIPANTS_BUDGET:
            raise PayloadTooLarge(f"the call's participant list ({len(call.participants)} participants, {len(text)} "
                                  f"characters) is over the {PARTICIPANTS_BUDGET} characters one call can hold",
                                  field="participants")
        put_text(entity, "participants", text)
    return entity


def entity_to_call(entity: dict[str, Any]) -> Call:
    """A call from its main row (the inline operations only; the pages are read apart)."""
    return Call(
        id=entity.get("id") or entity["PartitionKey"],
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
        decision=get_json(entity, "decision"),
        participants=tuple(get_json(entity, "participants") or ()),
        participants_seq=entity.get("participantsSeq"),
        last_result=get_json(entity, "lastResult"),
        error=get_json(entity, "error"),
        ended_at=_time(entity.get("endedAt")),
        event_count=entity.get("eventCount", 0),
        operations=operations_from(get_json(entity, "operations")),
        plan=get_json(entity, "plan"),
        plan_state=get_json(entity, "planState"),
    )


def operations_from(items: Iterable[dict[str, Any]] | None) -> tuple[Operation, ...]:
    return tuple(Operation.from_dict(op, _time) for op in items or ())


class Layout:
    """The rows one write of a call produces: its main row and any pages that move out of it."""

    def __init__(self, main: dict[str, Any], pages: list[dict[str, Any]], stored: Call) -> None:
        self.main = main
        self.pages = pages
        self.stored = stored  # the call as its main row now holds it (the operations left inline)


def layout(call: Call, base: dict[str, Any] | None, records: list[EventRecord]) -> Layout:
    """The main row for `call` after `records`, from the stored main row `base` (None for a new call).

    The recent log and the digests of applied event ids come from `base`; older log entries and finished operations
    move to new page rows when the main row would pass its budget. Raises PayloadTooLarge when something cannot
    be stored within Table Storage's limits even so.
    """
    pk = partition_for(call.call_key)
    base = base or {}
    log = list(get_json(base, "log") or ())
    seen_text = base.get("seen", "")
    pages: list[dict[str, Any]] = []
    log_pages = base.get("logPages", 0)
    ops_pages = base.get("opsPages", 0)
    for record in records:
        log.append(event_to_dict(record))
        seen_text += event_digest(record.id)
    seen_text = seen_text[-SEEN_KEPT * _DIGEST:]
    # Older log entries move to a page of their own (once written, never changed).
    if len(log) > LOG_INLINE_EVENTS or len(_dumps(log)) > LOG_INLINE_BUDGET:
        keep = log[-1:] if len(_dumps(log[-1:])) <= LOG_INLINE_BUDGET else []
        moving = log[:len(log) - len(keep)]
        for chunk in _pages_of(moving, "event log entry"):
            page: dict[str, Any] = {"PartitionKey": pk, "RowKey": f"{LOG_PAGE_PREFIX}{chunk[0]['seq']:08d}"}
            put_text(page, "events", _dumps(chunk))
            pages.append(page)
            log_pages += 1
        log = keep
    # Finished operations move out, oldest first, when the inline list grows past its bounds.
    operations = list(call.operations)
    inline = [op.to_dict() for op in operations]
    if len(inline) > OPS_INLINE_COUNT or len(_dumps(inline)) > OPS_INLINE_BUDGET:
        finished = [i for i, op in enumerate(operations) if op.final]
        excess = max(len(inline) - OPS_INLINE_COUNT // 2, 0)
        moving_idx: list[int] = finished[:excess] if excess else []
        while len(_dumps([d for i, d in enumerate(inline) if i not in set(moving_idx)])) > OPS_INLINE_BUDGET \
                and len(moving_idx) < len(finished):
            moving_idx = finished[:len(moving_idx) + 1]
        moving_set = set(moving_idx)
        if moving_set:
            for chunk in _pages_of([inline[i] for i in moving_idx], "operation"):
                page = {"PartitionKey": pk, "RowKey": f"{OPS_PAGE_PREFIX}{ops_pages:06d}"}
                put_text(page, "operations", _dumps(chunk))
                pages.append(page)
                ops_pages += 1
            operations = [op for i, op in enumerate(operations) if i not in moving_set]
            inline = [op.to_dict() for op in operations]
    stored = replace(call, operations=tuple(operations))
    main = {"PartitionKey": pk, "RowKey": MAIN_ROW, **call_fields(stored)}
    if inline:
        put_text(main, "operations", _dumps(inline))
    if log:
        put_text(main, "log", _dumps(log))
    if seen_text:
        main["seen"] = seen_text
    if log_pages:
        main["logPages"] = log_pages
    if ops_pages:
        main["opsPages"] = ops_pages
    size = entity_chars(main)
    if size > MAIN_ROW_BUDGET or len(main) > 250:
        raise PayloadTooLarge(f"call {call.id} would pass Table Storage's entity limit ({size} characters in "
                              f"{len(main)} properties): too many operations in progress or too large a record",
                              field="call")
    return Layout(main, pages, stored)


def _pages_of(items: list[dict[str, Any]], what: str) -> list[list[dict[str, Any]]]:
    """Items in page-sized groups, in order; an item that alone passes a page's budget cannot be stored."""
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for item in items:
        length = len(_dumps(item)) + 1
        if length > PAGE_BUDGET:
            raise PayloadTooLarge(f"one {what} has {length} characters, over the {PAGE_BUDGET} one row can hold")
        if current and size + length > PAGE_BUDGET:
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += length
    if current:
        groups.append(current)
    return groups


def seen_digests(entity: dict[str, Any] | None) -> set[str]:
    text = (entity or {}).get("seen", "")
    return {text[i:i + _DIGEST] for i in range(0, len(text), _DIGEST)}


def partition_contents(rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[EventRecord],
                                                              tuple[Operation, ...]]:
    """The main row, the whole event log (pages, then the recent entries) and the moved operations of a partition."""
    main = next((r for r in rows if r["RowKey"] == MAIN_ROW), None)
    events: list[EventRecord] = []
    archived: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["RowKey"]):
        key = row["RowKey"]
        if key.startswith(LOG_PAGE_PREFIX):
            events.extend(event_from_dict(e) for e in get_json(row, "events") or ())
        elif key.startswith(OPS_PAGE_PREFIX):
            archived.extend(get_json(row, "operations") or ())
        elif key.startswith(LEGACY_EVENT_PREFIX):
            events.append(legacy_event(row))
    if main is not None:
        events.extend(event_from_dict(e) for e in get_json(main, "log") or ())
    events.sort(key=lambda e: e.seq)
    return main, events, operations_from(archived)
