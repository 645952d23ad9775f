"""Run the emulator: python -m devtools.emulator --port 8123 --app-url http://127.0.0.1:7071."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .emulator import DEFAULT_ACCESS_KEY, DEFAULT_APP_URL, DEFAULT_RESOURCE_ID, Emulator
from .jwt_signing import DEFAULT_ISSUER


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.emulator",
                                     description="Local Azure Communication Services Call Automation emulator.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--app-url", default=DEFAULT_APP_URL, help="the Functions host, for IncomingCall delivery")
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY, help="base64 HMAC key (default: the fixed local key)")
    parser.add_argument("--resource-id", default=DEFAULT_RESOURCE_ID, help="audience of the callback JWTs")
    parser.add_argument("--issuer", default=DEFAULT_ISSUER, help="issuer of the callback JWTs")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every REST response")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiplier for every timer (0.01 = 100x faster)")
    parser.add_argument("--owned-number", action="append", default=[], metavar="E164",
                        help="a phone number of this resource: invitations to it ring the app (repeatable)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emu = Emulator(app_url=args.app_url, access_key=args.access_key, resource_id=args.resource_id,
                   issuer=args.issuer, latency_ms=args.latency_ms, time_scale=args.time_scale,
                   owned_numbers=args.owned_number)
    await emu.start(port=args.port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    # One line on stdout, for scripts to read the URL (and the local key) from.
    print(f"emulator listening on {emu.url} access_key={emu.access_key}", flush=True)
    try:
        await stopping.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
