"""The app's own legs, coming back as IncomingCall: recognise them, and count how often one call was steered on.

- Invitations (AddParticipant, TransferToParticipant) carry a signed leg header (shared/domain/legs.py): known on
  arrival, with no read, however early the IncomingCall comes.
- Redirects and created calls cannot carry one (their REST requests have no custom calling context): they are
  noted by correlation id in a legs row (shared/adapters/legs.py). A redirect's row is written before the redirect
  is sent; a created call's once ACS has answered with its correlation id, so an IncomingCall to an ACS user that
  finds no row is looked up again for a short while before it is taken for someone else's call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Iterable

from shared.adapters.legs import Legs
from shared.bootstrap import Services
from shared.domain.events import IncomingCall
from shared.domain.identifiers import ACS_USER, Identifier
from shared.domain.legs import MAX_HOPS
from shared.errors import ConcurrencyConflict, StoreUnavailable

log = logging.getLogger("callsteer")
# How long an IncomingCall to an ACS user waits for the row of a call the app has just created (ACS raises the
# IncomingCall as soon as the call is placed, before the app has heard the correlation id back).
LOOKUP_RETRIES_S = (0.1, 0.3, 0.6, 1.0)
MAX_WRITE_ATTEMPTS = 8


async def _update(services: Services, correlation_id: str, change) -> Legs | None:
    """Read-modify-write the legs row of one call; `change` returns the new row, or None to leave it."""
    if services.legs is None:
        return None
    for _ in range(MAX_WRITE_ATTEMPTS):
        found = await services.legs.load(correlation_id)
        current, etag = found if found else (Legs(correlation_id=correlation_id), None)
        updated = change(current)
        if updated is None:
            return current
        updated = replace(updated, updated_at=services.clock())
        try:
            await services.legs.save(updated, etag)
            return updated
        except ConcurrencyConflict:
            continue
    raise StoreUnavailable(f"the legs of call {correlation_id} kept changing under {MAX_WRITE_ATTEMPTS} writes")


async def note_created_call(services: Services, correlation_id: str | None, targets: Iterable[Identifier]) -> None:
    """Note the ACS users a created call rings, so their IncomingCalls are known as the app's own."""
    users = [t.raw_id for t in targets if t.kind == ACS_USER]
    if not correlation_id or not users:
        return

    def add(legs: Legs) -> Legs | None:
        missing = [u for u in users if u not in legs.targets]
        return Legs(legs.correlation_id, legs.hops, legs.events, legs.targets + tuple(missing)) if missing else None

    await _update(services, correlation_id, add)


async def made_by_the_app(services: Services, incoming: IncomingCall) -> bool:
    """Whether an IncomingCall without the leg header is a redirect or created call of the app (by correlation id)."""
    if services.legs is None:
        return False
    for wait in (0.0, *LOOKUP_RETRIES_S):
        if wait:
            await asyncio.sleep(wait)
        found = await services.legs.load(incoming.correlation_id)
        if found is not None and incoming.to.raw_id in found[0].targets:
            return True
    return False


async def count_redirect(services: Services, incoming: IncomingCall, hop: int, target: Identifier) -> int | None:
    """Count a redirect of this call before it is sent; the hop number it makes, or None past the bound.

    The hop of the call so far is the larger of what its leg header says and the redirects already counted; a
    redelivery of the same event counts once (and makes the same decision again).
    """
    decided: dict[str, int | None] = {}

    def add(legs: Legs) -> Legs | None:
        if incoming.event_id in legs.events:
            decided["hop"] = max(hop, legs.hops)
            return None
        so_far = max(hop, legs.hops)
        if so_far >= MAX_HOPS:
            decided["hop"] = None
            return None
        decided["hop"] = so_far + 1
        return Legs(legs.correlation_id, so_far + 1, legs.events + (incoming.event_id,),
                    legs.targets + ((target.raw_id,) if target.raw_id not in legs.targets else ()))

    await _update(services, incoming.correlation_id, add)
    return decided.get("hop", hop + 1)


async def hops_so_far(services: Services, incoming: IncomingCall) -> int:
    """The redirects counted for this call (0 when none)."""
    if services.legs is None:
        return 0
    found = await services.legs.load(incoming.correlation_id)
    return found[0].hops if found else 0
