"""Print the mutation score of the last `mutmut run` (called by `./dev mutate`), per module and in total.

Usage: python -m devtools.mutation_score [SECONDS_TAKEN]

Score = killed / (every mutant mutmut made); mutants no test reaches ("no tests") and survivors both count
against it. Survivors are listed with `.venv/bin/mutmut results` and shown with `mutmut show NAME`; each is
either killed by a new test or recorded in tests/mutation-survivors.md with why it is equivalent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"


def results() -> dict[str, Counter]:
    """Status counts per module, from `mutmut results --all true`."""
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    per_module: dict[str, Counter] = defaultdict(Counter)
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        module = name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]
        per_module[module][status] += 1
    return per_module


def main(argv: list[str]) -> int:
    per_module = results()
    if not per_module:
        print("no mutmut results: run ./dev mutate first", file=sys.stderr)
        return 1
    total: Counter = Counter()
    print(f"{'module':40} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'score':>7}")
    for module in sorted(per_module):
        counts = per_module[module]
        total.update(counts)
        made = sum(counts.values())
        print(f"{module:40} {made:8} {counts['killed']:7} {counts['survived']:9} {counts['no tests']:9} "
              f"{counts['killed'] / made:7.1%}")
    made = sum(total.values())
    other = {k: v for k, v in total.items() if k not in ("killed", "survived", "no tests")}
    taken = f" in {int(argv[0]) // 60} min {int(argv[0]) % 60} s" if argv else ""
    print(f"mutation score of shared/domain/: {total['killed']}/{made} = {total['killed'] / made:.1%}"
          f" (survived {total['survived']}, no tests {total['no tests']}"
          f"{''.join(f', {k} {v}' for k, v in sorted(other.items()))}){taken}")
    (ROOT / "mutants" / "score.json").write_text(json.dumps({"total": made, **total, "seconds": argv[0] if argv else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
