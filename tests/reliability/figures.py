"""The reliability figures: counters bumped where the thing happened, printed once at the end of the session."""

from __future__ import annotations

from collections import Counter

CALLS = "calls simulated"
DUPLICATES = "duplicate deliveries injected"
OUT_OF_ORDER = "out-of-order deliveries"
WRITERS = "concurrent writers"
ACS_FAULTS = "ACS faults injected"
STORAGE_FAULTS = "storage faults injected"
FORGED = "forged callbacks tried"
BAD_INPUTS = "bad inputs tried"
LOST = "lost or corrupted updates"
ORDER = (CALLS, DUPLICATES, OUT_OF_ORDER, WRITERS, ACS_FAULTS, STORAGE_FAULTS, FORGED, BAD_INPUTS, LOST)

figures: Counter[str] = Counter()
# Set while a test marked xfail (a known, reported app bug) runs: its losses are real and counted, and said apart.
in_known_bug = False
known_bug_losses = 0


def bump(name: str, by: int = 1) -> None:
    global known_bug_losses
    assert name in ORDER, name
    figures[name] += by
    if name == LOST and in_known_bug:
        known_bug_losses += by


def lines() -> list[str]:
    out = [f"reliability: {name} {figures[name]}" for name in ORDER]
    if known_bug_losses:
        out[-1] += f" ({known_bug_losses} of them in tests marked xfail for known app bugs)"
    return out
