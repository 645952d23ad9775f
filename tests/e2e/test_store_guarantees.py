"""The store's half of "no lost updates" against Azurite: a write under a stale ETag (If-Match) is refused and
changes nothing (the cached row of this process included), and a repeated event fails the whole write, the main
row's change with it."""

import uuid
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from shared.adapters.store import DuplicateEvent
from shared.bootstrap import get_services
from shared.domain.call import CONNECTED, CONNECTING, DISCONNECTED, INBOUND, Call, EventRecord
from shared.errors import ConcurrencyConflict

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)


def a_call(call_id):
    return Call(id=call_id, call_key="i" + uuid.uuid4().hex[:31], direction=INBOUND,
                state=CONNECTING, started_at=NOW, updated_at=NOW, call_connection_id=call_id)


def record(seq, event_id):
    return EventRecord(seq=seq, id=event_id, type="ParticipantsUpdated", time=NOW, received_at=NOW)


async def test_a_write_under_a_stale_etag_is_refused_and_changes_nothing(stack):
    store = (await get_services()).store
    call_id = f"if-match-{uuid.uuid4()}"
    await store.insert(a_call(call_id))
    first = await store.load(call_id)
    await store.save(replace(first.call, state=CONNECTED), first, [record(1, f"{call_id}-e1")])
    with pytest.raises(ConcurrencyConflict):  # a second writer that read before the first wrote
        await store.save(replace(first.call, state=DISCONNECTED), first, [record(1, f"{call_id}-e2")])
    found = await store.load_with_events(call_id)
    now, events = found.loaded, found.events
    assert now.call.state == CONNECTED and [e.id for e in events] == [f"{call_id}-e1"]
    assert now.etag != first.etag
    assert (await store.load(call_id)).call.state == CONNECTED  # this process's cached row too


async def test_a_repeated_event_fails_the_whole_write_atomically(stack):
    store = (await get_services()).store
    call_id = f"duplicate-{uuid.uuid4()}"
    await store.insert(a_call(call_id))
    loaded = await store.load(call_id)
    await store.save(replace(loaded.call, event_count=1), loaded, [record(1, f"{call_id}-e1")])
    loaded = await store.load(call_id)
    with pytest.raises(DuplicateEvent) as dup:
        await store.save(replace(loaded.call, state=CONNECTED, event_count=3), loaded,
                         [record(2, f"{call_id}-e2"), record(3, f"{call_id}-e1")])
    assert dup.value.index == 1
    found = await store.load_with_events(call_id)
    now, events = found.loaded, found.events
    assert now.call.state == CONNECTING and now.etag == loaded.etag and [e.id for e in events] == [f"{call_id}-e1"]
