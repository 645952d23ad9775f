"""Follow-up plans of answered calls, decided from stored state alone. Pure.

The engine is `shared.domain.flows` (ring groups, transfers and every call-flow step); the commands it returns
are in `shared.domain.commands`. This module keeps the names the handlers use.
"""

from shared.domain.commands import (  # noqa: F401 - re-exported
    AddParticipant, CancelAddParticipant, Command, HangUp, Hold, Play, Recognize, RemoveParticipant, StartRecording,
    StopRecording, Transfer, Unhold,
)
from shared.domain.flows import (  # noqa: F401 - re-exported
    DONE, FALLBACK, HANGING_UP, MENU, PLAYING, QUEUE, RINGING, TRANSFERRING, VOICEMAIL, WAITING, advance,
    step_context, unsent,
)
