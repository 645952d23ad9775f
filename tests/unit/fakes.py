"""In-memory fakes of the app's two adapters (CallStore, CallControl), with the contracts the real ones keep:
conditional writes under an ETag, event rows that refuse a second copy, ACS actions recorded with their
repeatability ids. For handler tests that need no Azurite and no emulator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from shared.adapters.acs import Connection, Repeatability
from shared.adapters.store import CallExists, DuplicateEvent, Loaded
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
    """Calls by id with an ETag each; save() is conditional (If-Match) and refuses an event id stored before."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[Call, str]] = {}
        self.events: dict[str, list[EventRecord]] = {}
        self.saves = 0
        self.loads = 0
        self.conflicts_to_inject = 0  # the next N saves lose a race: another writer changed the row
        self._etags = itertools.count(1)

    async def load(self, call_id: str) -> Loaded | None:
        self.loads += 1
        if call_id not in self.calls:
            return None
        call, etag = self.calls[call_id]
        return Loaded(call, etag)

    async def load_with_events(self, call_id: str):
        loaded = await self.load(call_id)
        return None if loaded is None else (loaded, list(self.events.get(call_id, [])))

    async def insert(self, call: Call) -> None:
        if call.id in self.calls:
            raise CallExists(f"call {call.id} exists")
        self._write(call, [])

    async def save(self, call: Call, etag: str | None, events: list[EventRecord]) -> None:
        self.saves += 1
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            stored, _ = self.calls[call.id]
            self.calls[call.id] = (stored, f"W/{next(self._etags)}")  # the other writer's change
            raise ConcurrencyConflict(f"call {call.id} changed")
        current = self.calls.get(call.id)
        if (etag is None) != (current is None) or (current is not None and current[1] != etag):
            raise ConcurrencyConflict(f"call {call.id} changed")
        known = {e.id for e in self.events.get(call.id, [])}
        for index, event in enumerate(events):
            if event.id in known:
                raise DuplicateEvent(index)
        self._write(call, events)

    async def list_calls(self, limit: int, state: str | None = None, direction: str | None = None, **_: Any):
        return [c for c, _ in self.calls.values()][:limit]

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
