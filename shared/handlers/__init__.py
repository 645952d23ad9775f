"""The service layer, one module per concern; each handler loads, decides (pure domain), acts through an adapter,
and saves.

- `incoming`: IncomingCall events (routing decisions).
- `callbacks`: Call Automation callbacks (events applied to a call, follow-ups driven).
- `control`: the call control API (create, connect, transfer, participants, hang up).
- `queries`: the state API (one call, the listing).
- `retention`: deleting calls older than CALL_RETENTION_DAYS (the timer).
- `core`: what they share (optimistic writes, recording a new call, sending follow-ups).
"""

from shared.handlers.callbacks import CallbackOutcome, authenticate_callback, on_callback
from shared.handlers.control import (
    add_participant, cancel_invitation, connect_call, create_call, hang_up, remove_participant, transfer,
)
from shared.handlers.incoming import on_incoming_call
from shared.handlers.queries import get_call, list_calls
from shared.handlers.retention import purge_expired

__all__ = [
    "CallbackOutcome", "add_participant", "authenticate_callback", "cancel_invitation", "connect_call",
    "create_call", "get_call", "hang_up", "list_calls", "on_callback", "on_incoming_call", "purge_expired", "remove_participant",
    "transfer",
]
