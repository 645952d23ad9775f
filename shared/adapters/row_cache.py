"""A per-process cache of the main rows this process last wrote or read, with their ETags. Bounded in memory.

It only ever saves a read before a conditional write: the write carries the cached ETag, so if another instance
changed the call since, Table Storage answers 412 and the writer reads again and re-applies. Reads that answer a
client (GET /api/calls/{id}) never come from it. Partition keys of calls (never changed once made) are kept too.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from shared.adapters.call_rows import entity_chars


@dataclass(frozen=True)
class CachedRow:
    partition: str
    entity: dict[str, Any]
    etag: str
    call: Any  # the Call decoded from `entity`


class RowCache:
    """Least recently used first out; at most `max_entries` rows and `max_chars` characters of them."""

    def __init__(self, max_entries: int = 4096, max_chars: int = 32_000_000, max_row_chars: int = 200_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.max_row_chars = max_row_chars
        self._rows: OrderedDict[str, tuple[CachedRow, int]] = OrderedDict()
        self._partitions: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, call_id: str) -> CachedRow | None:
        found = self._rows.get(call_id)
        if found is None:
            self.misses += 1
            return None
        self._rows.move_to_end(call_id)
        self.hits += 1
        return found[0]

    def put(self, call_id: str, partition: str, entity: dict[str, Any], etag: str, call: Any) -> None:
        self.forget(call_id)
        self.remember_partition(call_id, partition)
        size = entity_chars(entity)
        if size > self.max_row_chars:
            return
        self._rows[call_id] = (CachedRow(partition, entity, etag, call), size)
        self._chars += size
        while self._rows and (len(self._rows) > self.max_entries or self._chars > self.max_chars):
            _, (_, dropped) = self._rows.popitem(last=False)
            self._chars -= dropped

    def forget(self, call_id: str) -> None:
        found = self._rows.pop(call_id, None)
        if found is not None:
            self._chars -= found[1]

    def partition(self, call_id: str) -> str | None:
        found = self._partitions.get(call_id)
        if found is not None:
            self._partitions.move_to_end(call_id)
        return found

    def remember_partition(self, call_id: str, partition: str) -> None:
        self._partitions[call_id] = partition
        self._partitions.move_to_end(call_id)
        while len(self._partitions) > self.max_entries * 4:
            self._partitions.popitem(last=False)


class CallLocks:
    """One writer per call at a time within this process: local writers queue instead of racing each other to a
    412 (other instances are still kept apart by the ETags). Locks nobody holds or waits for are dropped."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, call_id: str) -> asyncio.Lock:
        lock = self._locks.get(call_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[call_id] = lock
        return lock
