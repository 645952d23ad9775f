"""Callbacks shuffled and repeated, for many calls at once: the final state equals the in-order result.

Each call has a twin that gets the same events (same ids, its own call connection) in order; the shuffled call
must end exactly like its twin, and like the rules say: every event logged once, the participants of the highest
sequence number, disconnected, and nothing after CallDisconnected bringing it back.
"""

from __future__ import annotations

import asyncio
import copy
import random

import pytest

from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, participants_updated

pytestmark = pytest.mark.e2e

CALLS = 6
UPDATES = 6
UNKNOWN = 4


def agent(n: int) -> str:
    return f"8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-{n:012d}"


def in_order_events(call: dict, n: int, rng: random.Random) -> list[dict]:
    events = []
    for seq in range(1, UPDATES + 1):
        people = [f"4:+1425555{n:02d}{seq:02d}"] + [agent(n * 100 + k) for k in range(rng.randint(0, 3))]
        events.append(participants_updated(call, 100 + seq, people, f"c{n}-pu-{seq}"))
        if seq <= UNKNOWN:
            events.append(cloud_event("PlayCompleted", call, f"c{n}-play-{seq}", operationContext=f"play-{seq}"))
    events.append(cloud_event("CallDisconnected", call, f"c{n}-disconnected"))
    return events


def for_call(events: list[dict], call: dict) -> list[dict]:
    """The same events (same ids) addressed to another call connection."""
    moved = copy.deepcopy(events)
    for event in moved:
        event["data"]["callConnectionId"] = call["callConnectionId"]
        event["data"]["correlationId"] = call["correlationId"]
    return moved


def shuffled_with_copies(events: list[dict], rng: random.Random) -> tuple[list[dict], int, int]:
    """Everything before CallDisconnected shuffled with copies mixed in; CallDisconnected, then late copies and a
    late CallConnected. Returns the deliveries, how many were out of order and how many were copies."""
    body, last = events[:-1], events[-1]
    deliveries = body + [e for e in body if rng.random() < 0.4]
    rng.shuffle(deliveries)
    late = rng.sample(body, 3)
    deliveries += [last] + late + [last]
    order = {e["id"]: i for i, e in enumerate(events)}
    out_of_order, highest = 0, -1
    for event in deliveries:
        if order[event["id"]] < highest:
            out_of_order += 1
        highest = max(highest, order[event["id"]])
    return deliveries, out_of_order, len(deliveries) - len(events)


def outcome(call: dict, ids: set[str]) -> dict:
    """The parts of a call that the events decide (the emulator's own callbacks left aside)."""
    mine = [e for e in call["events"] if e["id"] in ids]
    return {"state": call["state"], "participants": call["participants"], "endedAt": call["endedAt"],
            "eventIds": sorted(e["id"] for e in mine), "eventCount": len(mine),
            "operations": [(o["operationContext"], o["status"]) for o in call["operations"]]}


async def post_each(stack, call_key: str, deliveries: list[dict]) -> None:
    for event in deliveries:
        status, body = await stack.post(stack.callback_url(call_key), [event])
        assert status == 200, body


async def test_shuffled_and_repeated_callbacks_end_like_the_in_order_result(stack):
    rng = random.Random(20260)
    subjects = [await answered_call(stack, f"+14255551{n:03d}") for n in range(CALLS)]
    twins = [await answered_call(stack, f"+14255552{n:03d}") for n in range(CALLS)]
    plans = []
    for n, ((call, key, _), (twin, twin_key, _)) in enumerate(zip(subjects, twins)):
        events = in_order_events(call, n, rng)
        deliveries, out_of_order, copies = shuffled_with_copies(events, rng)
        plans.append((call, key, twin, twin_key, events, deliveries))
        fig.bump(fig.OUT_OF_ORDER, out_of_order)
        fig.bump(fig.DUPLICATES, copies)
    fig.bump(fig.CALLS, 2 * CALLS)

    # All calls at once; each call's events one after another in the delivery order.
    await asyncio.gather(*(post_each(stack, key, deliveries) for call, key, _, _, _, deliveries in plans),
                         *(post_each(stack, twin_key, for_call(events, twin))
                           for _, _, twin, twin_key, events, _ in plans))

    mismatches = []
    for call, _, twin, _, events, _ in plans:
        ids = {e["id"] for e in events}
        _, shuffled = await stack.get(f"/api/calls/{call['id']}")
        _, in_order = await stack.get(f"/api/calls/{twin['id']}")
        got, want = outcome(shuffled, ids), outcome(in_order, ids)
        highest = max((e for e in events if e["type"].endswith("ParticipantsUpdated")),
                      key=lambda e: e["data"]["sequenceNumber"])
        expected = {"state": "disconnected", "eventCount": len(events), "eventIds": sorted(ids),
                    "participants": [p["identifier"]["rawId"] for p in highest["data"]["participants"]]}
        wrong = {k: (got[k], want[k]) for k in got if got[k] != want[k]}
        wrong.update({k: (got[k], v) for k, v in expected.items() if got[k] != v})
        if wrong:
            mismatches.append((call["id"], wrong))
    fig.bump(fig.LOST, len(mismatches))
    assert not mismatches, mismatches


async def test_nothing_after_call_disconnected_brings_a_call_back(stack):
    call, key, _ = await answered_call(stack, "+14255550501")
    late = ["CallConnected", "ParticipantsUpdated", "CallTransferAccepted", "AddParticipantSucceeded", "PlayCompleted"]
    assert (await stack.post(stack.callback_url(key), [cloud_event("CallDisconnected", call)]))[0] == 200
    for name in late:
        event = (participants_updated(call, 9999, ["4:+14255550999"]) if name == "ParticipantsUpdated"
                 else cloud_event(name, call, operationContext="late"))
        assert (await stack.post(stack.callback_url(key), [event]))[0] == 200
        fig.bump(fig.OUT_OF_ORDER)
    fig.bump(fig.CALLS)
    _, now = await stack.get(f"/api/calls/{call['id']}")
    assert now["state"] == "disconnected"
    assert [e["type"] for e in now["events"]][-len(late):] == late


async def test_a_higher_participants_update_arriving_after_call_disconnected_still_wins(stack):
    call, key, _ = await answered_call(stack, "+14255550502")
    first = participants_updated(call, 501, ["4:+14255550502"], "late-pu-1")
    second = participants_updated(call, 502, ["4:+14255550502", agent(502)], "late-pu-2")
    disconnected = cloud_event("CallDisconnected", call, "late-disconnected")
    for event in (first, disconnected, second):  # emitted first, second, disconnected; second arrives last
        assert (await stack.post(stack.callback_url(key), [event]))[0] == 200
    _, now = await stack.get(f"/api/calls/{call['id']}")
    fig.bump(fig.CALLS)
    fig.bump(fig.OUT_OF_ORDER)
    fig.bump(fig.LOST, int(now["participants"] != ["4:+14255550502", agent(502)]))
    assert now["state"] == "disconnected"
    assert now["participants"] == ["4:+14255550502", agent(502)]
