"""The benchmark's quick mode still runs end to end and writes sane figures (its speed is not judged here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _numbers(item, f"{path}[{n}]")


def test_quick_benchmark_writes_its_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "devtools.bench", "--quick", "--out", str(tmp_path)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| incoming call |" in done.stdout
    for name in ("bench.json", "bench.md", "bench.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((tmp_path / "bench.json").read_text())

    assert set(results) >= {"meta", "profiles", "cold_start", "targets"}
    for path, number in _numbers(results):
        assert math.isfinite(number), path
    profile = results["profiles"][0]
    incoming = profile["incoming"]
    for side in ("app", "floor"):
        assert incoming[side]["n"] == results["meta"]["options"]["calls"]
        assert 0 < incoming[side]["p50_ms"] <= incoming[side]["p99_ms"]
    assert incoming["ratio_p50"] > 0
    # Counted, not estimated: every answered call asks ACS once and writes its decision.
    assert incoming["round_trips"]["app"]["acs"]["requests"] >= 1
    assert incoming["round_trips"]["app"]["tables"]["requests"] >= 1
    levels = profile["callbacks"]["levels"]
    assert [lv["in_flight"] for lv in levels] == results["meta"]["options"]["levels"]
    for level in levels:
        assert level["statuses"] == {"200": level["events"]}
        assert level["events_per_call"] == ["CallConnected", "ParticipantsUpdated", "AddParticipantSucceeded",
                                            "ParticipantsUpdated", "CallDisconnected"]
        for side in ("app", "floor"):
            assert level[side]["p50_ms"] > 0 and level[side]["throughput_eps"] > 0
        assert level["round_trips"]["app"]["tables"]["requests"] > 0
        assert level["round_trips"]["floor"]["tables"]["requests"] == 2
    cold = results["cold_start"]
    assert cold["import"]["app_import_ms"] > 0 and cold["import"]["sdk_import_ms"] > 0
    assert cold["first_invocation"]["first_incoming_ms"] > 0 and cold["first_invocation"]["first_callback_ms"] > 0
    assert all({"name", "target", "measured", "met"} <= set(t) for t in results["targets"])
    growth = results["listing_growth"]["sizes"]
    assert [size["calls"] for size in growth] == results["meta"]["options"]["growth_sizes"]
    assert all(size[q]["calls_shown"] == 50 and size[q]["table_requests"] >= 1 for size in growth
               for q in ("plain", "state=failed", "direction=outbound") if size["calls"] >= 300)
    assert "**Targets**" in (tmp_path / "bench.md").read_text()
