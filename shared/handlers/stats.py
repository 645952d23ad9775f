"""Daily figures: what each write of a call changed (domain.tally), fed to the metrics as the write lands."""

from __future__ import annotations

import logging
from typing import Any

from shared import telemetry
from shared.bootstrap import Services
from shared.domain.tally import tally

log = logging.getLogger("callsteer")


async def observe(services: Services, before: Any | None, after: Any) -> None:
    """Count what a landed write of a call changed; a repeat, which changed nothing, counts nothing."""
    change = tally(before, after)
    if change is None:
        return
    if change.get("ringAnswered") and change.answer_seconds is not None:
        telemetry.ring_answered(change.rule, change.answer_seconds)
    if change.get("ringUnanswered"):
        telemetry.ring_unanswered(change.rule)
