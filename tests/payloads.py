"""The one helper that loads the real-shaped payloads under tests/events/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent / "events"


def load_event(name: str) -> Any:
    """A fresh copy of tests/events/<name>.json."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def callback(name: str, **data: Any) -> list[dict[str, Any]]:
    """The callback payload for an event type, with `data` keys overridden (None removes a key)."""
    body = load_event(f"callback_{name}")
    for key, value in data.items():
        if value is None:
            body[0]["data"].pop(key, None)
        else:
            body[0]["data"][key] = value
    return body
