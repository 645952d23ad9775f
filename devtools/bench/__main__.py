"""python -m devtools.bench [--quick] [--calls N] [--latency-ms N[,N...]] [--out DIR]

Runs the whole benchmark in one go on this machine (Azurite and the ACS emulator on loopback) and writes
bench.json, bench.md and bench.png into --out (default artifacts/bench); prints the Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few calls only (CI: keeps the benchmark working)")
    parser.add_argument("--calls", type=int, help="incoming_call invocations measured (default 300; quick 12)")
    parser.add_argument("--levels", help="calls in flight for callbacks, e.g. 1,10,100 (quick: 1,4,16)")
    parser.add_argument("--callback-calls", type=int,
                        help="calls replayed at each level (default: 40, 100, 300 for 1, 10, 100 in flight)")
    parser.add_argument("--latency-ms", help="latency added per ACS request, one profile per value (default 0,10; "
                                             "quick 0)")
    parser.add_argument("--table-latency-ms", type=float,
                        help="latency added per Table Storage request (default: the same as --latency-ms)")
    parser.add_argument("--out", type=Path, help="output directory (default artifacts/bench)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from devtools.bench.report import markdown, write_all
    from devtools.bench.run import PROJECT_ROOT, Bench, Options

    options = Options.quick_mode() if args.quick else Options()
    if args.calls is not None:
        options.calls = args.calls
    if args.levels:
        options.levels = tuple(int(x) for x in args.levels.split(","))
    if args.callback_calls is not None or args.levels:
        default = {1: 40, 10: 100, 100: 300}
        options.level_calls = {lv: args.callback_calls or options.level_calls.get(lv) or default.get(lv) or 3 * lv
                               for lv in options.levels}
    if args.latency_ms:
        options.latencies = tuple(int(x) for x in args.latency_ms.split(","))
    if args.table_latency_ms is not None:
        options.table_latency_ms = args.table_latency_ms
    options.out = args.out or PROJECT_ROOT / "artifacts" / "bench"
    # The app logs every call at INFO; keep the console to warnings so logging does not weigh on the figures.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[bench {time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    results = asyncio.run(Bench(options, log).run())
    paths = write_all(results, options.out)
    print(markdown(results))
    log(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
