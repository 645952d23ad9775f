"""Delivery of callback events to the app: ordered per call, signed, retried on 5xx/429, recorded."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from .activity import Activity
from .jwt_signing import CallbackSigner

log = logging.getLogger("devtools.emulator")

RETRIES = 3
BACKOFF_S = 0.5
POST_TIMEOUT_S = 10.0


def _is_retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class CallbackDispatcher:
    """One queue and one worker per call connection, so a call's events arrive in the order emitted."""

    def __init__(self, activity: Activity, signer: CallbackSigner, time_scale: float) -> None:
        self._activity = activity
        self._signer = signer
        self._time_scale = time_scale
        self._queues: dict[str, asyncio.Queue[tuple[str, dict[str, Any]]]] = {}
        self.session: aiohttp.ClientSession | None = None
        self.records: list[dict[str, Any]] = []
        self._in_flight = 0

    def post(self, call_connection_id: str, url: str, event: dict[str, Any]) -> None:
        """Queue one event for delivery after the ones already queued for the same call."""
        self._activity.begin()
        queue = self._queues.get(call_connection_id)
        if queue is None:
            queue = self._queues[call_connection_id] = asyncio.Queue()
            self._activity.spawn(self._work(call_connection_id, queue), counted=False)
        queue.put_nowait((url, event))

    async def _work(self, call_connection_id: str, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        while True:
            url, event = await queue.get()
            self._in_flight += 1
            try:
                await self._deliver(call_connection_id, url, event)
            finally:
                self._in_flight -= 1
                self._activity.end()

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until every queued callback has been delivered (or given up)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._in_flight or any(not q.empty() for q in self._queues.values()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("callbacks were not delivered in time")
            await asyncio.sleep(0.002)

    async def _deliver(self, call_connection_id: str, url: str, event: dict[str, Any]) -> None:
        # ACS posts every event as a JSON array, even a single one.
        body = json.dumps([event]).encode("utf-8")
        short_type = event["type"].rsplit(".", 1)[-1]
        status: int | None = None
        attempts = 0
        for attempt in range(RETRIES + 1):
            attempts = attempt + 1
            status = await self._post_once(url, body)
            if not _is_retryable(status) or attempt == RETRIES:
                break
            await asyncio.sleep(BACKOFF_S * (2**attempt) * self._time_scale)
        if _is_retryable(status):
            log.warning("callback %s for call %s given up after %d attempts (last status %s)",
                        short_type, call_connection_id, attempts, status)
        self.records.append({
            "call_connection_id": call_connection_id,
            "type": short_type,
            "event": event,
            "url": url,
            "status": status,
            "attempts": attempts,
        })

    async def _post_once(self, url: str, body: bytes) -> int | None:
        assert self.session is not None, "the emulator is not started"
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self._signer.mint()}",
        }
        try:
            async with self.session.post(url, data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.warning("callback POST failed: %s", type(exc).__name__)
            return None
