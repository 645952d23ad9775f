"""The service layer, one module per concern; each handler loads, decides (pure domain), acts through an adapter,
and saves.

- `incoming`: IncomingCall events (routing decisions).
- `callbacks`: Call Automation callbacks (events applied to a call, follow-ups driven).
- `control`: the call control API (create, connect, transfer, participants, hang up).
- `queries`: the state API (one call, the listing).
- `rules`: the operators' view of the routing rules (simulate a call).
- `stats`: the daily figures, counted as calls are written.
- `core`: what they share (optimistic writes, recording a new call, sending follow-ups).
"""

from shared.handlers.callbacks import CallbackOutcome, authenticate_callback, on_callback
from shared.handlers.control import (
    add_participant, cancel_invitation, connect_call, create_call, hang_up, remove_participant, transfer,
)
from shared.handlers.incoming import on_incoming_call
from shared.handlers.queries import get_call, list_calls
from shared.handlers.rules import simulate_rules
from shared.handlers.stats import get_stats

__all__ = [
    "CallbackOutcome", "add_participant", "authenticate_callback", "cancel_invitation", "connect_call",
    "create_call", "get_call", "get_stats", "hang_up", "list_calls", "on_callback", "on_incoming_call", "remove_participant",
    "simulate_rules", "transfer",
]
