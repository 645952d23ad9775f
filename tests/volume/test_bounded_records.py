"""A call stays readable and writable however much it collects: no Table Storage property or entity limit is
passed, nothing the API shows is lost, and what cannot be stored is refused with a 4xx before ACS is asked."""

from __future__ import annotations


import pytest

from shared.adapters import call_rows
from tests.reliability.helpers import answered_call, participants_updated, rows

pytestmark = pytest.mark.e2e

INVITATIONS = 200


def agent(n: int) -> str:
    return f"8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-{n:012d}"


def long_context(n: int) -> str:
    return f"invite-{n:04d}-" + "x" * (256 - 12)


def assert_within_table_limits(entities: list[dict]) -> None:
    for entity in entities:
        assert len(entity) <= 255, (entity["RowKey"], len(entity))
        for name, value in entity.items():
            if isinstance(value, str):
                assert len(value) <= 32 * 1024, (entity["RowKey"], name, len(value))
        # 1 MiB per entity, strings counted in UTF-16.
        size = sum(2 * len(k) + (2 * len(v) if isinstance(v, str) else 8) for k, v in entity.items())
        assert size < 1024 * 1024, (entity["RowKey"], size)


async def test_two_hundred_long_invitations_then_a_hang_up_and_every_callback_succeed(stack):
    call, _, _ = await answered_call(stack, "+14255551101")
    call_id = call["id"]
    for n in range(INVITATIONS):
        status, body = await stack.post(f"{stack.url}/api/calls/{call_id}/participants", {
            "target": agent(5000 + n), "operationContext": long_context(n), "displayName": "D" * 256,
            "voipHeaders": {"x-tenant": "t" * 1024}})
        assert status == 202, (n, body)
    await stack.emulator.idle()
    status, body = await stack.post(f"{stack.url}/api/calls/{call_id}/hangup", {"forEveryone": True})
    assert status == 202, body
    await stack.emulator.idle()

    delivered = [c for c in stack.emulator.callbacks if c["call_connection_id"] == call_id]
    assert len(delivered) > INVITATIONS, len(delivered)
    assert all(c["status"] == 200 for c in delivered), [c for c in delivered if c["status"] != 200][:3]

    status, now = await stack.get(f"/api/calls/{call_id}")
    assert status == 200 and now["state"] == "disconnected"
    invitations = [op for op in now["operations"] if op["action"] == "addParticipant"]
    assert [op["operationContext"] for op in invitations] == [long_context(n) for n in range(INVITATIONS)]
    assert all(op["status"] == "succeeded" for op in invitations), {op["status"] for op in invitations}
    hang_ups = [op for op in now["operations"] if op["action"] == "hangUp"]
    assert [op["status"] for op in hang_ups] == ["succeeded"]
    # Every event the emulator delivered is in the log, once, in order.
    assert [e["id"] for e in now["events"]] == [c["event"]["id"] for c in delivered]
    assert [e["seq"] for e in now["events"]] == list(range(1, len(delivered) + 1))
    assert len(now["participants"]) == INVITATIONS + 1 or now["participants"] == []

    [main] = await rows(stack, "RowKey eq 'call' and id eq @i", i=call_id)
    partition = await rows(stack, "PartitionKey eq @p", p=main["PartitionKey"])
    assert len(partition) > 2, "older events and operations moved to rows of their own"
    assert_within_table_limits(partition)


async def test_the_largest_participant_list_a_callback_may_carry_is_stored_whole_three_times(stack):
    from shared.domain.events import MAX_PARTICIPANTS, MAX_PARTICIPANTS_CHARS

    call, key, _ = await answered_call(stack, "+14255551102")
    count = MAX_PARTICIPANTS
    while sum(len(agent(100_000 + n)) for n in range(count)) > MAX_PARTICIPANTS_CHARS:
        count -= 1  # the largest list the edge accepts: at most MAX_PARTICIPANTS ids and MAX_PARTICIPANTS_CHARS
    assert count > 200
    event = participants_updated(call, 7, [agent(100_000 + n) for n in range(count)])
    for seq in (8, 9):  # and twice more: the log pages hold them, the main row keeps the latest list only
        later = participants_updated(call, seq, [agent(200_000 + seq * 10_000 + n) for n in range(count)])
        assert await stack.post(stack.callback_url(key), [later]) == (200, {"applied": 1, "duplicates": 0})
    assert await stack.post(stack.callback_url(key), [event]) == (200, {"applied": 1, "duplicates": 0})
    _, after = await stack.get(f"/api/calls/{call['id']}")
    assert after["participants"] == [agent(200_000 + 9 * 10_000 + n) for n in range(count)]  # seq 9 is the highest
    assert [len(e.get("participants", [])) for e in after["events"][-3:]] == [count] * 3
    [main] = await rows(stack, "RowKey eq 'call' and id eq @i", i=call["id"])
    assert_within_table_limits(await rows(stack, "PartitionKey eq @p", p=main["PartitionKey"]))


def test_what_one_call_cannot_hold_is_refused_as_payload_too_large():
    from datetime import datetime, timezone

    from shared.domain.call import Call
    from shared.domain.callback_tokens import new_call_key
    from shared.errors import PayloadTooLarge

    now = datetime.now(timezone.utc)
    call = Call(id="c", call_key=new_call_key(now), direction="inbound", state="connected", started_at=now,
                updated_at=now, participants=tuple(agent(n) for n in range(4_000)))
    with pytest.raises(PayloadTooLarge, match="participant list"):
        call_rows.layout(call, None, [])


class _OneCallStore:
    """A store holding one call in memory (a fake: the handler's check runs before anything is written)."""

    def __init__(self, call) -> None:
        import asyncio

        from shared.adapters.store import Loaded

        self.loaded = Loaded(call, "etag-1", None)
        self.saves = 0
        self._lock = asyncio.Lock()

    def writer(self, call_id):
        return self._lock

    async def load(self, call_id, call_key=None, fresh=False):
        return self.loaded

    async def save(self, call, loaded, events):
        self.saves += 1


class _NoAcs:
    def __init__(self) -> None:
        self.requests = 0

    async def add_participant(self, *args, **kwargs):
        self.requests += 1
        return "invitation"


async def test_too_many_operations_waiting_for_their_result_is_a_409_before_acs_is_asked():
    from datetime import datetime, timezone

    from shared.bootstrap import Services
    from shared.config import load_settings
    from shared.domain import operations as ops
    from shared.domain.call import Call
    from shared.domain.callback_tokens import new_call_key
    from shared.errors import Conflict
    from shared.handlers.control import add_participant

    now = datetime.now(timezone.utc)
    pending = tuple(ops.Operation(context=f"invite-{n}", action=ops.ADD_PARTICIPANT, status=ops.PENDING,
                                  created_at=now, updated_at=now, target=agent(n)) for n in range(ops.MAX_PENDING))
    call = Call(id="conn-1", call_key=new_call_key(now), direction="inbound", state="connected", started_at=now,
                updated_at=now, call_connection_id="conn-1", operations=pending)
    store, acs = _OneCallStore(call), _NoAcs()
    settings = load_settings({"ACS_ENDPOINT": "http://127.0.0.1:9", "CALLBACK_BASE_URL": "http://127.0.0.1:9",
                              "CALLBACK_SECRET": "s" * 40, "ACS_CALLBACK_VERIFY_JWT": "false",
                              "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "ROUTING_RULES": "{}"})
    services = Services(settings=settings, rules=None, store=store, control=acs, clock=lambda: now,
                        callback_verifier=None)
    with pytest.raises(Conflict, match="waiting for their result"):
        await add_participant(services, "conn-1", {"target": agent(9999)})
    assert acs.requests == 0 and store.saves == 0
