"""Every payload the live service sent to the Azure SDK's live tests (../shared/acs-recordings/) replayed through the
app's callback URL: each is accepted, and each call ends in the state its events imply.

The reference folder sits beside the checkout (CI has it); where it is absent the test is skipped, saying so.
$ACS_RECORDINGS_DIR points elsewhere.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from shared.domain.events import parse_time

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def recordings_dir() -> Path | None:
    candidates = [Path(os.environ["ACS_RECORDINGS_DIR"])] if os.environ.get("ACS_RECORDINGS_DIR") else []
    candidates += [ROOT.parent / "shared" / "acs-recordings", ROOT.parent.parent / "shared" / "acs-recordings"]
    return next((c for c in candidates if c.is_dir() and any(c.glob("*.json"))), None)


RECORDINGS = recordings_dir()
FILES = sorted(RECORDINGS.glob("*.json")) if RECORDINGS else []


def callbacks_of(recording: dict[str, Any]) -> list[dict[str, Any]]:
    """The callback CloudEvents of a recording (not its IncomingCall data), in the order the service sent them."""
    events = []
    for name, value in recording.items():
        if name == "IncomingCall":
            continue
        events.extend(value if isinstance(value, list) else [value])
    return sorted(events, key=lambda e: parse_time(e["time"], "time"))


def implied_state(events: list[dict[str, Any]]) -> str:
    names = [e["type"].rsplit(".", 1)[-1] for e in events]
    if "CallDisconnected" in names:
        return "disconnected"
    return "connected" if "CallConnected" in names else "connecting"


def implied_participants(events: list[dict[str, Any]]) -> list[str] | None:
    updates = [e["data"] for e in events if e["type"].endswith(".ParticipantsUpdated")]
    if not updates:
        return None
    last = max(updates, key=lambda d: d.get("sequenceNumber") or 0)
    return [p["identifier"]["rawId"] for p in last["participants"]]


@pytest.mark.skipif(RECORDINGS is None, reason="the recordings folder (../shared/acs-recordings) is not beside this "
                                                "checkout; set ACS_RECORDINGS_DIR to run it")
def test_the_recordings_folder_holds_recordings():
    assert len(FILES) >= 9, [f.name for f in FILES]


@pytest.mark.skipif(RECORDINGS is None, reason="the recordings folder (../shared/acs-recordings) is not beside this "
                                                "checkout; set ACS_RECORDINGS_DIR to run it")
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
async def test_every_recorded_callback_is_accepted_and_leaves_the_call_as_its_events_imply(stack, path):
    events = callbacks_of(json.loads(path.read_text(encoding="utf-8")))
    assert events, f"{path.name} holds no callback"
    keys: dict[str, str] = {}
    for event in events:
        connection_id = event["data"]["callConnectionId"]
        key = keys.setdefault(connection_id, "o" + secrets.token_hex(16))
        status, body = await stack.post(stack.callback_url(key), [event])
        assert status == 200, (path.name, event["type"], body)
        assert body == {"applied": 1, "duplicates": 0}, (path.name, event["type"], body)

    for connection_id in keys:
        mine = [e for e in events if e["data"]["callConnectionId"] == connection_id]
        status, call = await stack.get(f"/api/calls/{connection_id}")
        assert status == 200, call
        assert call["state"] == implied_state(mine), (path.name, connection_id, [e["type"] for e in mine])
        assert [e["id"] for e in call["events"]] == [e["id"] for e in mine]
        assert call["serverCallId"] == mine[0]["data"]["serverCallId"]
        assert call["correlationId"] == mine[0]["data"]["correlationId"]
        participants = implied_participants(mine)
        if participants is not None:
            assert sorted(call["participants"]) == sorted(participants)
        if call["state"] == "disconnected":
            assert call["endedAt"]
        # A second delivery of the same events (ACS retries) is recognised and changes nothing.
        status, body = await stack.post(stack.callback_url(keys[connection_id]), [mine[-1]])
        assert status == 200 and body == {"applied": 0, "duplicates": 1}
