"""python -m devtools.host --port H: serve function_app.py's functions locally, as `func start` would."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys

from devtools.host import PROJECT_ROOT, LocalHost, load_local_settings, route_prefix


async def serve(port: int, settings_file: str) -> None:
    applied = [] if settings_file == "-" else load_local_settings(PROJECT_ROOT / settings_file)
    if applied:
        logging.getLogger("callsteer.host").info("read %d settings from %s", len(applied), settings_file)
    sys.path.insert(0, str(PROJECT_ROOT))
    function_app = importlib.import_module("function_app")
    host = LocalHost(function_app.app, prefix=route_prefix(PROJECT_ROOT / "host.json"))
    url = await host.start(port=port)
    routes = ", ".join(f"{'/'.join(f.methods)} /{host.prefix}/{f.route}" for f in host.http_functions)
    print(f"local host listening on {url}", flush=True)
    print(f"  HTTP: {routes}", flush=True)
    print(f"  Event Grid: POST {url}/runtime/webhooks/eventgrid?functionName="
          f"{','.join(host.eventgrid_functions)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await host.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.host", description=__doc__)
    parser.add_argument("--port", type=int, default=7071, help="port to listen on (0 picks a free one)")
    parser.add_argument("--settings", default="local.settings.json",
                        help="Core Tools settings file whose Values become environment variables (env wins); "
                             "'-' reads none")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    asyncio.run(serve(args.port, args.settings))


if __name__ == "__main__":
    main()
