"""One OS process of the app running the registered `retention` timer function once, as one instance would.

Reads nothing but the settings in its environment; prints "ready", waits for "go" on stdin, runs the function with
the func.TimerRequest the host passes, and prints one JSON line: {"ok": true} or {"ok": false, "error": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys


async def main() -> None:
    from azure.functions.timer import TimerRequest

    import function_app
    from devtools.host import timer_functions
    from shared.bootstrap import close_services, get_services

    retention = timer_functions(function_app.app)["retention"].call
    await get_services()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    try:
        await retention(timer=TimerRequest(past_due=False))
        outcome = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    await close_services()
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
