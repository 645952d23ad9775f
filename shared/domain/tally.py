"""What one write of a call changed in the daily figures: a pure comparison of the call before and after it.

A decision newly recorded on an inbound call counts it as offered and as answered, rejected, redirected or failed;
an answered call whose answer then fails (AnswerFailed) moves from answered to failed; a ring group's first
outcome counts it answered (with the time from its first invitation to the agent answering) or unanswered.
Because the comparison is against the stored state the write replaced (read under its ETag), a repeated or
redelivered event, which changes nothing, counts nothing. The metrics and the daily stats are both fed from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from shared.domain import operations as ops

FIGURES = ("offered", "answered", "rejected", "redirected", "failed", "ringAnswered", "ringUnanswered")
_BY_ACTION = {"answer": "answered", "reject": "rejected", "redirect": "redirected"}
_RING_UNANSWERED = ("unanswered", "caller left")


@dataclass(frozen=True)
class Tally:
    """Changes to one rule's figures for one day (the UTC day the call started)."""

    day: date
    rule: str
    changes: tuple[tuple[str, int], ...]
    answer_seconds: float | None = None  # a ring group's time to answer, when this write saw it answered

    def get(self, figure: str) -> int:
        return sum(n for name, n in self.changes if name == figure)

    def taken_back(self) -> Tally:
        """The tally that undoes this one's counts (not its answer time: take back only a tally without one)."""
        return replace(self, changes=tuple((name, -n) for name, n in self.changes), answer_seconds=None)


def tally(before: Any | None, after: Any) -> Tally | None:
    """The figures this write changed, or None (outbound calls, repeats, changes that count nothing)."""
    decision = after.decision
    if after.direction != "inbound" or not decision or not decision.get("rule"):
        return None
    changes: list[tuple[str, int]] = []
    counted = before is not None and bool(before.decision)
    if not counted:
        changes.append(("offered", 1))
        changes.append(("failed" if after.state == "failed" else _BY_ACTION.get(decision.get("action"), "failed"), 1))
    elif decision.get("action") == "answer" and before.state != "failed" and after.state == "failed":
        changes += [("answered", -1), ("failed", 1)]
    seconds = None
    before_outcome = ((before.plan_state or {}).get("outcome") if before is not None else None)
    outcome = (after.plan_state or {}).get("outcome")
    if before_outcome is None and outcome == "answered":
        seconds = _answer_seconds(after)
        changes.append(("ringAnswered", 1))
    elif before_outcome is None and outcome in _RING_UNANSWERED:
        changes.append(("ringUnanswered", 1))
    if not changes:
        return None
    return Tally(day=after.started_at.date(), rule=decision["rule"], changes=tuple(changes), answer_seconds=seconds)


def _answer_seconds(call: Any) -> float | None:
    ring = [op for op in call.operations if op.source == "plan" and op.action == ops.ADD_PARTICIPANT]
    winner = next((op for op in ring if op.status == ops.SUCCEEDED), None)
    if winner is None or not ring:
        return None
    first = min(op.created_at for op in ring)
    return max(0.0, (winner.updated_at - first).total_seconds())


# ---- answer times, kept as a histogram per day and rule ------------------------------------------------------
# Resolution: 0.1 s under 10 s, 1 s up to 10 minutes, and one bucket beyond: at most ~700 keys per row, well
# inside Table Storage's 32K characters per property, whatever the volume.


def bucket(seconds: float) -> str:
    if seconds < 10:
        return f"{round(seconds, 1):.1f}"
    if seconds < 600:
        return str(int(round(seconds)))
    return "600"


def median(histogram: dict[str, int]) -> float | None:
    """The median of the answer times a histogram holds (to its resolution), None when it is empty."""
    values = sorted((float(k), n) for k, n in histogram.items() if n > 0)
    count = sum(n for _, n in values)
    if not count:
        return None

    def nth(i: int) -> float:  # the i-th smallest (0-based)
        seen = 0
        for value, n in values:
            seen += n
            if i < seen:
                return value
        return values[-1][0]

    middle = (nth((count - 1) // 2) + nth(count // 2)) / 2
    return round(middle, 1)
