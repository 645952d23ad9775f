"""The service layer, one module per concern; each handler loads, decides (pure domain), acts through an adapter,
and saves.

- `incoming`: IncomingCall events (routing decisions).
- `callbacks`: Call Automation callbacks (events applied to a call, follow-ups driven).
- `control`: the call control API (create, connect, transfer, participants, hang up).
- `queries`: the state API (one call, the listing).
- `voicemails`: recording files ready (Event Grid) and the voicemail list.
- `retention`: deleting calls older than CALL_RETENTION_DAYS (the timer).
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
from shared.handlers.retention import purge_expired
from shared.handlers.rules import simulate_rules
from shared.handlers.stats import get_stats
from shared.handlers.voicemails import list_voicemails, on_recording_file_status

__all__ = [
    "CallbackOutcome", "add_participant", "authenticate_callback", "cancel_invitation", "connect_call",
    "create_call", "get_call", "get_stats", "hang_up", "list_calls", "list_voicemails", "on_callback",
    "on_incoming_call", "on_recording_file_status", "purge_expired", "remove_participant", "simulate_rules",
    "transfer",
]
