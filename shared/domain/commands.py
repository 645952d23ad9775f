"""What the flow engine asks ACS to do: one command per request, each under its own operation context. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AddParticipant:
    context: str
    target: str
    timeout_seconds: int | None
    caller_id: str | None


@dataclass(frozen=True)
class CancelAddParticipant:
    context: str
    invitation_id: str


@dataclass(frozen=True)
class RemoveParticipant:
    """Take an agent out of the call: the later of two who both answered a ring group."""

    context: str
    target: str


@dataclass(frozen=True)
class Transfer:
    context: str
    target: str


@dataclass(frozen=True)
class HangUp:
    context: str
    for_everyone: bool


@dataclass(frozen=True)
class Play:
    """Play an audio file to everyone in the call (the caller and the app)."""

    context: str
    url: str


@dataclass(frozen=True)
class Recognize:
    """Collect one DTMF key from `target`, after `prompts` (none: a silent wait), interruptible by a key."""

    context: str
    target: str
    prompts: tuple[str, ...]
    timeout_seconds: int


@dataclass(frozen=True)
class Hold:
    context: str
    target: str
    music: str


@dataclass(frozen=True)
class Unhold:
    context: str
    target: str


@dataclass(frozen=True)
class StartRecording:
    """Record the call's audio (mixed, wav) into the operator's Blob container (the adapter adds its URL)."""

    context: str


@dataclass(frozen=True)
class StopRecording:
    context: str
    recording_id: str


Command = (AddParticipant | CancelAddParticipant | RemoveParticipant | Transfer | HangUp | Play | Recognize | Hold
           | Unhold | StartRecording | StopRecording)
