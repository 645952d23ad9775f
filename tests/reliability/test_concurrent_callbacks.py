"""Callbacks for one call from several OS processes at once (as on several instances): no update lost or corrupted.

Four worker processes post, all at once, distinct events for the same call (unknown-type events with distinct ids,
ParticipantsUpdated with distinct sequence numbers, some in batches) plus copies of each other's events. In the end
every event is in the call's log exactly once, the log's sequence is whole, the event count is the number of
distinct events, and the participants are those of the highest sequence number.
"""

from __future__ import annotations

import random

import pytest

from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, participants_updated, run_workers

pytestmark = pytest.mark.e2e

PROCESSES = 4
UNKNOWN_PER_PROCESS = 10
UPDATES_PER_PROCESS = 4
COPIES_PER_PROCESS = 4


def agent(n: int) -> str:
    return f"8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-{n:012d}"


def lost_or_corrupted(call: dict, before: dict, sent: dict[str, dict]) -> list[str]:
    """What differs from the expected state: each missing, repeated or wrong thing is one lost/corrupted update."""
    problems = []
    logged = [e["id"] for e in call["events"]]
    for event_id in sent:
        count = logged.count(event_id)
        if count != 1:
            problems.append(f"event {event_id} logged {count} times")
    seqs = [e["seq"] for e in call["events"]]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"event log sequence is not whole: {seqs}")
    expected_count = len(before["events"]) + len(sent)
    if len(call["events"]) != expected_count:
        problems.append(f"{len(call['events'])} events logged, expected {expected_count}")
    highest = max((e for e in sent.values() if e["type"].endswith("ParticipantsUpdated")),
                  key=lambda e: e["data"]["sequenceNumber"])
    expected_participants = [p["identifier"]["rawId"] for p in highest["data"]["participants"]]
    if call["participants"] != expected_participants:
        problems.append(f"participants {call['participants']} are not those of seq "
                        f"{highest['data']['sequenceNumber']}: {expected_participants}")
    if call["state"] != "connected":
        problems.append(f"state {call['state']}")
    return problems


async def test_callbacks_for_one_call_from_several_processes_lose_nothing(stack):
    call, call_key, _ = await answered_call(stack, "+14255550401")
    status, before = await stack.get(f"/api/calls/{call['id']}")
    rng = random.Random(401)
    own: list[list[dict]] = []
    sent: dict[str, dict] = {}
    for p in range(PROCESSES):
        events = [cloud_event("PlayCompleted" if i % 2 else "RecognizeCompleted", call, f"p{p}-unknown-{i}",
                              operationContext=f"op-{p}-{i}") for i in range(UNKNOWN_PER_PROCESS)]
        for i in range(UPDATES_PER_PROCESS):
            seq = 1000 + i * PROCESSES + p  # interleaved across processes: the highest is in the last one
            events.append(participants_updated(call, seq, [f"4:+1425555{seq:04d}", agent(seq)], f"p{p}-pu-{seq}"))
        own.append(events)
        sent.update({e["id"]: e for e in events})

    jobs = []
    for p in range(PROCESSES):
        events = list(own[p])
        # Copies of another process's events: the same CloudEvent delivered twice, from two instances.
        copies = rng.sample(own[(p + 1) % PROCESSES], COPIES_PER_PROCESS)
        events += copies
        rng.shuffle(events)
        # Mostly one event per request (as ACS posts them), some in batches of two or three.
        bodies, i = [], 0
        while i < len(events):
            size = rng.choice([1, 1, 1, 2, 3])
            bodies.append(events[i:i + size])
            i += size
        jobs.append({"mode": "callbacks", "requests": [
            {"callKey": call_key, "token": stack.callback_url(call_key).rsplit("/", 1)[1],
             "authorization": f"Bearer {stack.emulator.mint_callback_token()}", "body": body} for body in bodies]})

    results = await run_workers(stack, jobs)
    posts = [r for worker in results for r in worker["results"]]
    statuses = [s for r in posts for s in r["statuses"]]
    applied = sum(r["answer"]["applied"] for r in posts if r["statuses"][-1] == 200)
    duplicates = sum(r["answer"]["duplicates"] for r in posts if r["statuses"][-1] == 200)
    fig.bump(fig.CALLS)
    fig.bump(fig.WRITERS, PROCESSES)
    fig.bump(fig.DUPLICATES, PROCESSES * COPIES_PER_PROCESS)

    status, after = await stack.get(f"/api/calls/{call['id']}")
    assert status == 200
    problems = lost_or_corrupted(after, before, sent)
    # A request whose final answer is not 200 was given up by its sender, as ACS would give up: that is a loss too.
    given_up = [r for r in posts if r["statuses"][-1] != 200]
    fig.bump(fig.LOST, len(problems) + len(given_up))
    assert not given_up, f"callbacks given up after retries: {given_up}"
    assert not problems, problems
    assert applied == len(sent) and duplicates == PROCESSES * COPIES_PER_PROCESS, (applied, duplicates)
    # 503s under contention are allowed (the sender retries), but report them.
    print(f"concurrent callbacks: {len(posts)} requests, {statuses.count(503)} answered 503 and retried")
