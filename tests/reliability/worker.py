"""One OS process of the app, as one Functions instance: services built from the settings in the environment only.

Run by tests/reliability/helpers.run_workers: reads one JSON job line on stdin, builds the services, prints
"ready", waits for "go", then invokes the registered functions the way the host would and prints one JSON line of
results. Jobs:

- {"mode": "incoming", "events": [Event Grid event, ...], "copies": N}: every event delivered N times at once;
  a delivery that raises is redelivered (as Event Grid does) up to 3 times.
- {"mode": "callbacks", "requests": [{"callKey", "token", "authorization", "body"}, ...]}: every request posted
  at once; a 5xx/429 answer is retried 3 times with 0.5 s x 2^n backoff (as ACS does).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def main() -> None:
    job = json.loads(sys.stdin.readline())

    import azure.functions as func

    import function_app
    from devtools.host import _event_time, discover
    from shared.bootstrap import close_services, get_services

    http_functions, eventgrid_functions = discover(function_app.app)
    incoming_call = eventgrid_functions["incoming_call"].call
    callbacks = next(f.call for f in http_functions if f.name == "callbacks")
    services = await get_services()
    await services.store.load("warm-up-connection")  # open the pool before the start line
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    results: list[dict[str, Any]] = []

    async def deliver(raw: dict[str, Any]) -> None:
        for attempt in range(4):
            event = func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw.get("topic"),
                                        subject=raw.get("subject"), event_type=raw["eventType"],
                                        event_time=_event_time(raw.get("eventTime")),
                                        data_version=raw.get("dataVersion"))
            try:
                await incoming_call(event)
                results.append({"id": raw["id"], "ok": True, "attempts": attempt + 1})
                return
            except Exception as exc:  # noqa: BLE001 - a failed delivery is redelivered, as Event Grid does
                error = type(exc).__name__
                await asyncio.sleep(0.05 * 2 ** attempt)
        results.append({"id": raw["id"], "ok": False, "attempts": 4, "error": error})

    async def post(request: dict[str, Any]) -> None:
        statuses = []
        for attempt in range(4):
            req = func.HttpRequest(
                method="POST", url=f"{services.settings.callback.base_url}/api/callbacks/{request['callKey']}/x",
                headers={"Content-Type": "application/json", "Authorization": request["authorization"]},
                params={}, route_params={"callKey": request["callKey"], "token": request["token"]},
                body=json.dumps(request["body"]).encode())
            response = await callbacks(req)
            statuses.append(response.status_code)
            if response.status_code < 500 and response.status_code != 429:
                break
            await asyncio.sleep(0.5 * 2 ** attempt * request.get("backoff_scale", 1.0))
        body = json.loads(response.get_body() or b"null")
        results.append({"ids": [e["id"] for e in request["body"]], "statuses": statuses, "answer": body})

    if job["mode"] == "incoming":
        await asyncio.gather(*(deliver(raw) for raw in job["events"] for _ in range(job.get("copies", 1))))
    elif job["mode"] == "callbacks":
        await asyncio.gather(*(post(r) for r in job["requests"]))
    else:
        raise SystemExit(f"unknown mode {job['mode']!r}")
    await close_services()
    print(json.dumps({"pid": os.getpid(), "results": results}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
