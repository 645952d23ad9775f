"""In-memory fakes of the app's two adapters (CallStore, CallControl), with the contracts the real ones keep:
conditional writes under an ETag, event rows that refuse a second copy, ACS actions recorded with their
repeatability ids. For handler tests that need no Azurite and no emulator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone

from shared.adapters.acs import Connection, Repeatability
from shared.adapters.row_cache import CallLocks
from shared.adapters.store import CallExists, DuplicateEvent, Found, IdTaken, Loaded, Page
from shared.bootstrap import Services
from shared.config import load_settings
from shared.domain.call import Call, EventRecord
from shared.domain.routing import parse_rules
from shared.errors import AcsError, ConcurrencyConflict

CONNECTION_ID = "401f3500-62bd-46a9-8c37-fa6c2b1f7f43"  # the call connection id of tests/events/callback_*.json
SETTINGS = {
    "ACS_ENDPOINT": "http://127.0.0.1:8089",
    "ACS_ACCESS_KEY": "bG9jYWwtZW11bGF0b3Ita2V5LW5vdC1hLXNlY3JldC0wMQ==",
    "ACS_RESOURCE_ID": "00000000-0000-0000-0000-00000000ac5e",
    "ACS_CALLER_ID": "+18005550100",
    "CALLBACK_BASE_URL": "http://127.0.0.1:7071",
    "CALLBACK_SECRET": "s" * 40,
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ROUTING_RULES": '{"rules": [], "default": {"action": "reject"}}',  # the tests pass their own ruleset
}


class FakeStore:
    """Calls by id with an ETag each, keeping the CallStore contract (shared/adapters/store.py): a call named with
    its call key is found only under that key; save() is conditional on the ETag it was loaded with (If-Match) and
    refuses an event id stored before, whole; one writer per call at a time within the process."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[Call, str]] = {}
        self.events: dict[str, list[EventRecord]] = {}
        self.saves = 0
        self.loads = 0
        self.conflicts_to_inject = 0  # the next N saves lose a race: another writer changed the row
        self._etags = itertools.count(1)
        self.writer = CallLocks()

    def _find(self, call_id: str, call_key: str | None) -> tuple[Call, str] | None:
        found = self.calls.get(call_id) or next(
            ((c, e) for c, e in self.calls.values() if c.call_key == call_id), None)
        if found is None or (call_key is not None and found[0].call_key != call_key):
            return None
        return found

    async def load(self, call_id: str, call_key: str | None = None, fresh: bool = False) -> Loaded | None:
        self.loads += 1
        found = self._find(call_id, call_key)
        return None if found is None else Loaded(*found)

    async def load_with_events(self, call_id: str, call_key: str | None = None) -> Found | None:
        loaded = await self.load(call_id, call_key)
        return None if loaded is None else Found(loaded, list(self.events.get(loaded.call.id, [])))

    async def insert(self, call: Call) -> None:
        if call.id in self.calls:
            raise CallExists(f"call {call.id} exists")
        self._write(call, [])

    async def save(self, call: Call, loaded: Loaded | None, events: list[EventRecord]) -> None:
        self.saves += 1
        current = self.calls.get(call.id)
        if loaded is None and current is not None and current[0].call_key != call.call_key:
            raise IdTaken(f"connection id {call.id} already belongs to another call")
        if self.conflicts_to_inject and current is not None:
            self.conflicts_to_inject -= 1
            self.calls[call.id] = (current[0], f"W/{next(self._etags)}")  # the other writer's change
            raise ConcurrencyConflict(f"call {call.id} changed")
        if (loaded is None) != (current is None) or (current is not None and current[1] != loaded.etag):
            raise ConcurrencyConflict(f"call {call.id} changed")
        known = {e.id for e in self.events.get(call.id, [])}
        for index, event in enumerate(events):
            if event.id in known:
                raise DuplicateEvent(index)
            known.add(event.id)
        self._write(call, events)

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None,
                         cursor: str | None = None) -> Page:
        calls = sorted((c for c, _ in self.calls.values() if (state is None or c.state == state)
                        and (direction is None or c.direction == direction)), key=lambda c: c.started_at,
                       reverse=True)
        return Page(calls[:limit], None, [True] * len(calls[:limit]))

    async def expired(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        old = sorted((c for c, _ in self.calls.values() if c.started_at < before), key=lambda c: c.started_at,
                     reverse=True)
        return [(c.id, c.id) for c in old[:limit]]

    async def purge(self, partition: str, call_id: str) -> int:
        gone = self.calls.pop(call_id, None)
        return 0 if gone is None else 1 + len(self.events.pop(call_id, []))

    def _write(self, call: Call, events: list[EventRecord]) -> None:
        self.calls[call.id] = (call, f"W/{next(self._etags)}")
        self.events.setdefault(call.id, []).extend(events)


@dataclass
class FakeControl:
    """Records every ACS action with its repeatability id; `fail` makes the next actions raise."""

    sent: list[tuple[str, tuple, str]] = field(default_factory=list)
    fail: list[AcsError] = field(default_factory=list)
    invitations: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _send(self, action: str, args: tuple, repeat: Repeatability) -> None:
        self.sent.append((action, args, repeat.request_id))
        if self.fail:
            raise self.fail.pop(0)

    def actions(self, name: str) -> list[tuple[tuple, str]]:
        return [(args, rid) for action, args, rid in self.sent if action == name]

    async def answer(self, context, callback_url, operation_context, repeat):
        self._send("answer", (operation_context,), repeat)
        return Connection(CONNECTION_ID, "aHR0cHM6Ly9hcGkuZXhhbXBsZS50ZXN0L2NvbnYvc2VydmVyLWNhbGwtMQ",
                          "0a3c1f8e-77b2-4d5e-b1aa-2f6c0d9e8b10")

    async def reject(self, context, reason, repeat):
        self._send("reject", (reason,), repeat)

    async def redirect(self, context, target, repeat):
        self._send("redirect", (target.raw_id,), repeat)

    async def add_participant(self, connection_id, target, caller_id, display_name, timeout, sip, voip,
                              operation_context, repeat):
        self._send("addParticipant", (target.raw_id, operation_context), repeat)
        return f"inv-{next(self.invitations)}"

    async def cancel_add_participant(self, connection_id, invitation_id, operation_context, repeat):
        self._send("cancelAddParticipant", (invitation_id, operation_context), repeat)

    async def remove_participant(self, connection_id, target, operation_context, repeat):
        self._send("removeParticipant", (target.raw_id, operation_context), repeat)

    async def transfer(self, connection_id, target, transferee, sip, voip, operation_context, repeat):
        self._send("transfer", (target.raw_id, operation_context), repeat)

    async def hang_up(self, connection_id, for_everyone, repeat):
        self._send("hangUp", (for_everyone,), repeat)

    async def call_state(self, connection_id):
        return "connected"


class Clock:
    def __init__(self, now: datetime = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def services(rules: dict, store: FakeStore | None = None, control: FakeControl | None = None,
             clock: Clock | None = None) -> Services:
    return Services(settings=load_settings(SETTINGS), rules=parse_rules(rules), store=store or FakeStore(),
                    control=control or FakeControl(), clock=clock or Clock(), callback_verifier=None)
