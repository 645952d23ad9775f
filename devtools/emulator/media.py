"""Media operations on a connected call: play, recognize (DTMF), hold and unhold, and their events.

Each request is checked whole against the spec's schema (spec_bodies), answered as the spec says (play and
recognize 202, hold and unhold 200), and its outcome arrives as callbacks shaped like the recorded ones
(../shared/acs-recordings/play_media.json, play_invalid_file_source.json, hold_unhold.json). Tests script what
the caller does (`script_keys`: the keys pressed at each recognize, or silence) and how a file plays
(`script_media`: its duration, or that it cannot be played).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import bad_request
from .events import ResultInformation
from .identifiers import Identifier, identifier_from_model
from .model import CallConnection, CallState
from .spec_bodies import validate

if TYPE_CHECKING:
    from .engine import CallEngine, Reply

# Result information, as recorded (play_media.json: PlayCompleted 200/0; play_invalid_file_source.json:
# PlayFailed 400/8535 with failedPlaySourceIndex). The recognize codes are not in the recordings: 8531 (max
# digits received) and 8510 (initial silence timeout), and 8536 (file could not be downloaded), are the codes
# ACS's troubleshooting-codes page lists for them, as best known here.
PLAY_COMPLETED = ResultInformation(200, 0, "Action completed successfully.")
FILE_INVALID = ResultInformation(400, 8535, "Action failed, file format is invalid.")
FILE_UNREACHABLE = ResultInformation(400, 8536, "Action failed, file could not be downloaded.")
RECOGNIZE_COMPLETED = ResultInformation(200, 8531, "Action completed, max digits received.")
SILENCE_TIMEOUT = ResultInformation(400, 8510, "Action failed, initial silence timeout reached.")
DEFAULT_PLAY_MS = 1000
DEFAULT_KEY_DELAY_MS = 300
_DIGIT_TONES = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                "7": "seven", "8": "eight", "9": "nine", "#": "pound", "*": "asterisk", "A": "a", "B": "b",
                "C": "c", "D": "d"}


@dataclass(frozen=True)
class MediaScript:
    """How one file URL plays: for `duration_ms`, or fails ("invalid" or "unreachable")."""

    outcome: str = "ok"
    duration_ms: int = DEFAULT_PLAY_MS


class Media:
    """The media operations, on the engine's calls; scripts for files and for what callers press."""

    def __init__(self, engine: CallEngine) -> None:
        self._engine = engine
        self.files: dict[str, MediaScript] = {}
        # Per caller raw id: what they do at each recognize, in order ("1", "#", or None for silence).
        self.keys: dict[str, list[str | None]] = {}
        self.key_delay_ms = DEFAULT_KEY_DELAY_MS

    # ---- scripting ----------------------------------------------------------------------------

    def script_media(self, url: str, outcome: str = "ok", duration_ms: int = DEFAULT_PLAY_MS) -> None:
        if outcome not in ("ok", "invalid", "unreachable"):
            raise ValueError("outcome must be ok, invalid or unreachable")
        self.files[url] = MediaScript(outcome, duration_ms)

    def script_keys(self, raw_id: str, presses: list[str | None]) -> None:
        for press in presses:
            if press is not None and (not press or any(c not in _DIGIT_TONES for c in press)):
                raise ValueError(f"{press!r} is not a DTMF key (0-9, *, #, A-D) or None for silence")
        self.keys[Identifier.parse(raw_id).raw_id] = list(presses)

    # ---- operations ---------------------------------------------------------------------------

    def play(self, call_connection_id: str, payload: Any) -> Reply:
        from .engine import Reply

        call = self._connected(call_connection_id)
        body = validate(payload, "PlayRequest")
        sources = self._file_sources(body["playSources"], "playSources")
        if not sources:
            raise bad_request("The field 'playSources' must hold at least one play source.")
        for index, target in enumerate(body.get("playTo") or []):
            if call.participant(identifier_from_model(target, f"playTo[{index}]").raw_id) is None:
                raise bad_request(f"playTo[{index}] is not a participant of the call.")
        context = body.get("operationContext")
        url = body.get("operationCallbackUri") or call.callback_uri

        async def run() -> None:
            failure = await self._play_files(call, sources)
            if not call.is_active:
                return
            if failure is None:
                self._engine._emit(call, "PlayCompleted", PLAY_COMPLETED, url=url, operationContext=context)
            else:
                index, result = failure
                self._engine._emit(call, "PlayFailed", result, url=url, operationContext=context,
                                   failedPlaySourceIndex=index)

        return Reply(202, None, (run,))

    def recognize(self, call_connection_id: str, payload: Any) -> Reply:
        from .engine import Reply

        call = self._connected(call_connection_id)
        body = validate(payload, "RecognizeRequest")
        if body["recognizeInputType"].lower() != "dtmf":
            raise bad_request("The emulator recognizes DTMF only (recognizeInputType 'dtmf').")
        options = body["recognizeOptions"]
        target = identifier_from_model(options["targetParticipant"], "recognizeOptions.targetParticipant")
        if call.participant(target.raw_id) is None:
            raise bad_request("recognizeOptions.targetParticipant is not a participant of the call.")
        if body.get("playPrompt") is not None and body.get("playPrompts") is not None:
            raise bad_request("Give playPrompt or playPrompts, not both.")
        prompts = body.get("playPrompts") or ([body["playPrompt"]] if body.get("playPrompt") else [])
        sources = self._file_sources(prompts, "playPrompts")
        silence_s = options.get("initialSilenceTimeoutInSeconds", 5)
        max_tones = (options.get("dtmfOptions") or {}).get("maxTonesToCollect", 1)
        interruptible = bool(options.get("interruptPrompt"))
        context = body.get("operationContext")
        url = body.get("operationCallbackUri") or call.callback_uri
        # What the caller does is decided when the request arrives, one scripted entry per recognize.
        queue = self.keys.get(target.raw_id, [])
        press = queue.pop(0) if queue else None

        async def run() -> None:
            played = sum(self._script(s).duration_ms for s in sources) / 1000
            if press is not None and interruptible:
                await self._engine._sleep(min(played, self.key_delay_ms / 1000))
            else:
                failure = await self._play_files(call, sources)
                if failure is not None:
                    if call.is_active:
                        index, result = failure
                        self._engine._emit(call, "RecognizeFailed", result, url=url, operationContext=context,
                                           failedPlaySourceIndex=index)
                    return
                await self._engine._sleep(self.key_delay_ms / 1000 if press is not None else silence_s)
            if not call.is_active:
                return
            if press is None:
                self._engine._emit(call, "RecognizeFailed", SILENCE_TIMEOUT, url=url, operationContext=context)
                return
            tones = [_DIGIT_TONES[c] for c in press[:max_tones]]
            self._engine._emit(call, "RecognizeCompleted", RECOGNIZE_COMPLETED, url=url, operationContext=context,
                               recognitionType="dtmf", dtmfResult={"tones": tones})

        return Reply(202, None, (run,))

    def hold(self, call_connection_id: str, payload: Any) -> Reply:
        from .engine import Reply

        call = self._connected(call_connection_id)
        body = validate(payload, "HoldRequest")
        target = identifier_from_model(body["targetParticipant"], "targetParticipant")
        participant = call.participant(target.raw_id)
        if participant is None:
            raise bad_request("targetParticipant is not a participant of the call.")
        sources = self._file_sources([body["playSourceInfo"]], "playSourceInfo") if body.get("playSourceInfo") else []
        context = body.get("operationContext")
        url = body.get("operationCallbackUri") or call.callback_uri
        self._set_hold(call, target, True)

        async def run() -> None:
            # ParticipantsUpdated shows the held participant (hold_unhold.json: isOnHold true).
            await self._engine._participants_updated(call)
            for source in sources:
                script = self._script(source)
                if script.outcome != "ok" and call.is_active:
                    result = FILE_INVALID if script.outcome == "invalid" else FILE_UNREACHABLE
                    self._engine._emit(call, "HoldFailed", result, url=url, operationContext=context)

        return Reply(200, None, (run,))

    def unhold(self, call_connection_id: str, payload: Any) -> Reply:
        from .engine import Reply

        call = self._connected(call_connection_id)
        body = validate(payload, "UnholdRequest")
        target = identifier_from_model(body["targetParticipant"], "targetParticipant")
        participant = call.participant(target.raw_id)
        if participant is None:
            raise bad_request("targetParticipant is not a participant of the call.")
        if not participant.is_on_hold:
            # Sources are silent on unholding a participant not on hold: the stricter answer.
            raise bad_request("targetParticipant is not on hold.")
        self._set_hold(call, target, False)
        return Reply(200, None, (lambda: self._engine._participants_updated(call),))

    # ---- helpers ------------------------------------------------------------------------------

    def _connected(self, call_connection_id: str) -> CallConnection:
        call = self._engine._active_call(call_connection_id)
        if call.state != CallState.CONNECTED:
            raise bad_request(f"Media operations need a connected call; this one is {call.state.value}.")
        return call

    def _file_sources(self, sources: list[dict[str, Any]], where: str) -> list[str]:
        urls = []
        for index, source in enumerate(sources):
            if source["kind"].lower() != "file" or not source.get("file"):
                raise bad_request(f"{where}[{index}]: the emulator plays file sources only.")
            uri = source["file"]["uri"]
            if not uri.startswith(("https://", "http://")):
                raise bad_request(f"{where}[{index}].file.uri must be an absolute http(s) URL.")
            urls.append(uri)
        return urls

    def _script(self, url: str) -> MediaScript:
        return self.files.get(url, MediaScript())

    async def _play_files(self, call: CallConnection, urls: list[str]) -> tuple[int, ResultInformation] | None:
        for index, url in enumerate(urls):
            script = self._script(url)
            if script.outcome != "ok":
                await self._engine._sleep(0.1)
                return index, FILE_INVALID if script.outcome == "invalid" else FILE_UNREACHABLE
            await self._engine._sleep(script.duration_ms / 1000)
            if not call.is_active:
                return None
        return None

    @staticmethod
    def _set_hold(call: CallConnection, target: Identifier, on_hold: bool) -> None:
        call.participants = [replace(p, is_on_hold=on_hold) if p.identifier.raw_id == target.raw_id else p
                             for p in call.participants]
