"""Small statistics helpers: percentiles by linear interpolation, summaries in milliseconds."""

from __future__ import annotations

import math
import statistics
from typing import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, float | int]:
    """p50, p90, p99, mean, min and max in milliseconds of durations given in seconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 3), "p90_ms": round(percentile(ms, 90), 3),
            "p99_ms": round(percentile(ms, 99), 3), "mean_ms": round(statistics.fmean(ms), 3),
            "min_ms": round(min(ms), 3), "max_ms": round(max(ms), 3)}


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else math.nan
