"""The retention handler with fakes: each kind of row (calls, legs rows, voicemails, recording links) is deleted at
most BATCH x BATCHES per run, what is older than the cutoff only, and `more` says when any kind was left."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.adapters.expiry import Expired, StoredRow
from shared.domain.call import Call
from shared.handlers.retention import BATCH, BATCHES, purge_expired
from tests.unit.fakes import Clock, services

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
PER_RUN = BATCH * BATCHES


class FakeRows:
    """Rows of one kind by when they count from, found and deleted as the Table stores do (oldest last)."""

    def __init__(self, name: str, times: list[datetime]) -> None:
        self.rows = {f"{name}-{n}": when for n, when in enumerate(times)}
        self.asked: list[datetime] = []

    async def expired(self, before: datetime, limit: int) -> Expired:
        self.asked.append(before)
        old = sorted((k for k, when in self.rows.items() if when < before), key=self.rows.__getitem__,
                     reverse=True)
        return Expired([StoredRow(k, "r", "*") for k in old[:limit]], len(old) >= limit)

    async def purge(self, rows: list[StoredRow]) -> int:
        return sum(self.rows.pop(row.partition, None) is not None for row in rows)


class FakeVoicemails:
    def __init__(self, entries: FakeRows, links: FakeRows) -> None:
        self.entries, self.links = entries, links
        self.expired, self.expired_links = entries.expired, links.expired

    async def purge(self, rows: list[StoredRow]) -> int:
        return await self.entries.purge(rows) + await self.links.purge(rows)


def retention_services(calls: int, legs: int, entries: int, links: int, kept: int = 3):
    """Services holding that many rows of each kind older than 90 days (the default retention), and `kept` newer."""
    old, new = NOW - timedelta(days=91), NOW - timedelta(days=89)

    def times(count: int) -> list[datetime]:
        return [old - timedelta(minutes=n) for n in range(count)] + [new] * kept

    built = services({"rules": [], "default": {"action": "reject"}}, clock=Clock(NOW))
    for n, when in enumerate(times(calls)):
        call = Call(id=f"call-{n}", call_key=f"o{n}", direction="outbound", state="disconnected", started_at=when,
                    updated_at=when)
        built.store.calls[call.id] = (call, "W/1")
    built.legs = FakeRows("legs", times(legs))
    built.voicemails = FakeVoicemails(FakeRows("entry", times(entries)), FakeRows("link", times(links)))
    return built


@pytest.mark.parametrize("kind", ["calls", "legs", "entries", "links"])
async def test_a_run_deletes_at_most_500_rows_of_each_kind_and_says_more_when_any_kind_is_left(kind):
    counts = {"calls": 2, "legs": 2, "entries": 2, "links": 2, kind: PER_RUN + 1}
    built = retention_services(**counts)
    first = await purge_expired(built)
    assert (first.calls, first.legs, first.voicemails, first.links) == tuple(
        min(counts[k], PER_RUN) for k in ("calls", "legs", "entries", "links"))
    assert first.more, kind
    second = await purge_expired(built)
    assert (second.calls, second.legs, second.voicemails, second.links, second.more) == (
        *(1 if k == kind else 0 for k in ("calls", "legs", "entries", "links")), False)


async def test_only_rows_older_than_the_retention_period_are_deleted():
    built = retention_services(calls=4, legs=4, entries=4, links=4)
    outcome = await purge_expired(built)
    assert (outcome.calls, outcome.legs, outcome.voicemails, outcome.links, outcome.more) == (4, 4, 4, 4, False)
    assert len(built.store.calls) == len(built.legs.rows) == 3
    assert len(built.voicemails.entries.rows) == len(built.voicemails.links.rows) == 3
    cutoff = NOW - timedelta(days=90)
    assert set(built.legs.asked) == set(built.voicemails.entries.asked) == set(built.voicemails.links.asked) \
        == {cutoff}


async def test_a_run_without_legs_or_voicemail_stores_deletes_the_calls_alone():
    built = retention_services(calls=2, legs=0, entries=0, links=0)
    built.legs = built.voicemails = None
    outcome = await purge_expired(built)
    assert (outcome.calls, outcome.legs, outcome.voicemails, outcome.links, outcome.more) == (2, 0, 0, 0, False)
