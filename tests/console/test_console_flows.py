"""The console draws the path a call took through its flow: the prompt played, the key pressed, the queue
waited, the voicemail left; media actions reach the caller, never a lifeline of their own."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from devtools.stack import LocalStack
from tests.console.conftest import Console
from tests.console.test_console import arrows, masked, open_call, shot

LINE = "+18005550130"
VOICEMAIL_LINE = "+18005550131"
AGENT = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-0000000004c1"
RULES = {
    "flows": {
        "menu": {"menu": {"prompt": "https://media.example.com/welcome.wav", "options": {
            "1": {"queue": {"music": "https://media.example.com/hold.wav", "ring": [AGENT], "timeoutSeconds": 20,
                            "maxWaitSeconds": 60}}}}},
        "vm": {"voicemail": {"prompt": "https://media.example.com/leave-a-message.wav", "maxSeconds": 30}},
    },
    "rules": [
        {"name": "menu", "match": {"to": [LINE]}, "action": "answer", "then": {"flow": "menu"}},
        {"name": "vm", "match": {"to": [VOICEMAIL_LINE]}, "action": "answer", "then": {"flow": "vm"}},
    ],
    "default": {"action": "reject", "reason": "busy"},
}


@pytest.fixture(scope="module")
def flow_console() -> Iterator[Console]:
    with LocalStack(emulator_args=("--time-scale", "0.02"),
                    extra_settings={"ROUTING_RULES": json.dumps(RULES)}) as stack:
        c = Console(stack)
        c.emulator("PUT", "keys/+14255550401", {"presses": ["1"]})
        c.emulator("PUT", f"targets/{AGENT}", {"outcome": "answer", "delayMs": 5000})
        placed = c.place("+14255550401", LINE)
        c.calls["menu"] = c.settle(lambda: c.get(placed["id"]),
                                   lambda call: (call.get("planState") or {}).get("phase") == "done")
        left = c.place("+14255550402", VOICEMAIL_LINE)
        c.calls["voicemail"] = c.settle(lambda: c.get(left["id"]), lambda call: bool(call.get("voicemail")))
        yield c


def test_a_menu_call_shows_the_prompt_the_key_and_the_queue(flow_console: Console, page: Any) -> None:
    call = flow_console.calls["menu"]
    diagram = open_call(page, flow_console, call)
    caller = masked(call["from"])
    labels = [line["label"] for line in diagram["lifelines"]]
    assert labels == ["callsteer", "ACS", caller, masked(AGENT)]  # no lifeline for a file or a recording
    seen = arrows(diagram)
    assert ("callsteer", "ACS", "recognize") in seen and ("ACS", caller, "asks for a key") in seen
    assert ("ACS", "callsteer", "RecognizeCompleted") in seen
    assert ("ACS", caller, "puts on hold (music)") in seen and ("ACS", caller, "takes off hold") in seen
    recognized = next(s for s in diagram["steps"] if s["label"] == "RecognizeCompleted")
    assert "key 1" in page.text_content("#steps")
    path = page.inner_text("#flow-path")
    assert "caller pressed 1" in path and "queue" in path and f"answered by {masked(AGENT)}" in path
    assert recognized and page.errors == []
    shot(page, "flow-menu-queue")


def test_a_voicemail_call_shows_the_recording_and_the_voicemail_left(flow_console: Console, page: Any) -> None:
    call = flow_console.calls["voicemail"]
    open_call(page, flow_console, call)
    path = page.inner_text("#flow-path")
    assert "voicemail left" in path and "recording stopped (time up)" in path
    text = page.text_content("#steps")
    assert "startRecording" in text and "stopRecording" in text and "play leave-a-message.wav" in text
    assert call["from"] not in page.inner_text("body")
    assert page.errors == []
    shot(page, "flow-voicemail")
