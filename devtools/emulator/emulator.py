"""The Emulator: wires the model, REST surface, callbacks and test controls onto one loopback server."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Iterable, cast

import aiohttp
from aiohttp import web

from .activity import Activity
from .auth import decode_access_key
from .callbacks import CallbackDispatcher
from .control import add_control_routes
from .engine import ENDED_CALL_ANSWERS, CallEngine, Reply
from .held import HeldTargets
from .identifiers import Identifier
from .jwt_signing import DEFAULT_ISSUER, CallbackSigner
from .model import CallConnection, Fault, Outcome, TargetScript
from .recording import Recordings
from .server import AcsApi

# A fixed, documented local key (base64 of 32 ASCII bytes) so settings can be written in advance.
# It is not a secret: it only opens the emulator.
DEFAULT_ACCESS_KEY = base64.b64encode(b"callsteer-local-acs-emulator-key").decode("ascii")
# Stands in for the ACS resource's immutable id, the audience of the callback tokens.
DEFAULT_RESOURCE_ID = "00000000-0000-4000-8000-00000000ac50"
DEFAULT_APP_URL = "http://127.0.0.1:7071"
INCOMING_CALL_FUNCTION = "incoming_call"
RECORDING_FILE_STATUS_FUNCTION = "recording_file_status"
_RESOURCE_TOPIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/"
                   "Microsoft.Communication/communicationServices/emulator")


class Emulator:
    """A local Azure Communication Services Call Automation endpoint for tests and local runs."""

    def __init__(self, app_url: str = DEFAULT_APP_URL, access_key: str = DEFAULT_ACCESS_KEY,
                 resource_id: str = DEFAULT_RESOURCE_ID, issuer: str = DEFAULT_ISSUER, latency_ms: int = 0,
                 time_scale: float = 1.0, host: str = "127.0.0.1", owned_numbers: Iterable[str] = ()) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive (0.01 runs a 20 s timeout in 0.2 s)")
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        self.app_url = app_url.rstrip("/")
        self.access_key = access_key
        self.resource_id = resource_id
        self.issuer = issuer
        self._latency_ms = latency_ms
        self.time_scale = time_scale
        self.host = host
        self._activity = Activity()
        self._signer = CallbackSigner(issuer, resource_id)
        self._dispatcher = CallbackDispatcher(self._activity, self._signer, time_scale)
        self._engine = CallEngine(self._dispatcher, time_scale, _RESOURCE_TOPIC)
        self._recordings = Recordings(self._engine, self._publish_recording_file, _RESOURCE_TOPIC)
        self._engine.recordings = self._recordings
        self._engine.on_call_end = self._call_ended
        self._engine.deliver = self._deliver_raised
        self.own_numbers(*owned_numbers)
        self._engine.held = HeldTargets(self._activity)
        self._api = AcsApi(self._engine, self._activity, self._signer, decode_access_key(access_key), latency_ms)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def latency_ms(self) -> int:
        """How long each request takes to process (a repeat arriving meanwhile is answered 409)."""
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        if value < 0:
            raise ValueError("latency_ms must not be negative")
        self._latency_ms = value
        self._api.latency_s = value / 1000

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8123 (the CallAutomationClient endpoint)."""
        return f"http://{self.host}:{self.port}"

    @property
    def connection_string(self) -> str:
        """An ACS-style connection string; note the SDK's from_connection_string forces https."""
        return f"endpoint={self.url}/;accesskey={self.access_key}"

    async def start(self, port: int = 0) -> None:
        """Listen on host:port (0 picks a free port) on the running event loop."""
        app = web.Application()
        self._api.add_routes(app)
        add_control_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        # aiohttp exposes the bound port (needed for port 0) only through the server's sockets.
        server = cast(asyncio.Server, site._server)
        self.port = server.sockets[0].getsockname()[1]
        self._api.base_url = self.url
        self._session = aiohttp.ClientSession()
        self._dispatcher.session = self._session

    async def stop(self) -> None:
        """Cancel timers and deliveries, close the server and the callback client."""
        await self._activity.cancel_all()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- incoming calls -----------------------------------------------------------------------

    def incoming_call(self, from_: str = "+14255550123", to: str = "+18005550100",
                      caller_display_name: str | None = None, sip_headers: dict[str, str] | None = None,
                      voip_headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Register a ringing call and return its Event Grid IncomingCall event (not delivered)."""
        return self._engine.new_incoming_call(Identifier.parse(from_), Identifier.parse(to), caller_display_name,
                                              sip_headers, voip_headers)

    async def deliver_incoming_call(self, event: dict[str, Any]) -> int:
        """POST [event] to the app's Event Grid webhook as Event Grid does; return the HTTP status."""
        return await self.deliver_event_grid(INCOMING_CALL_FUNCTION, event)

    async def deliver_event_grid(self, function_name: str, event: dict[str, Any]) -> int:
        """POST [event] to the app's Event Grid webhook for one function's subscription; the HTTP status."""
        assert self._session is not None, "start() the emulator first"
        url = f"{self.app_url}/runtime/webhooks/eventgrid?functionName={function_name}"
        headers = {
            "Content-Type": "application/json",
            "aeg-event-type": "Notification",
            "aeg-subscription-name": f"EMULATOR-{function_name.upper().replace('_', '-')}",
            "aeg-delivery-count": "0",
            "aeg-data-version": event.get("dataVersion", "1.0"),
            "aeg-metadata-version": event.get("metadataVersion", "1"),
        }
        async with self._session.post(url, data=json.dumps([event]), headers=headers) as response:
            await response.read()
            return response.status

    def own_numbers(self, *numbers: str) -> None:
        """Make phone numbers (E.164) this resource's own: an invitation or redirect to one raises an IncomingCall."""
        for number in numbers:
            self._engine.owned_numbers.add(Identifier.parse(number).raw_id)

    @property
    def owned_numbers(self) -> list[str]:
        """This resource's phone numbers (raw ids)."""
        return sorted(self._engine.owned_numbers)

    @property
    def raised_incoming_calls(self) -> list[dict[str, Any]]:
        """IncomingCall events raised for the app's own invitations: cause, to, correlationId, event, status (the
        app's Event Grid endpoint's answer)."""
        return self._engine.raised

    async def _deliver_raised(self, event: dict[str, Any], record: dict[str, Any]) -> None:
        # Event Grid delivers on its own schedule: never inside (or before) the REST answer that caused the event.
        async def post() -> None:
            record["status"] = await self.deliver_incoming_call(event)
        self._activity.spawn(post())

    # ---- scripting ----------------------------------------------------------------------------

    def script_target(self, raw_id: str, outcome: str | Outcome = Outcome.ANSWER, delay_ms: int = 0) -> None:
        """Set what a target does when dialled (CreateCall, AddParticipant, transfer): answer, decline, no-answer, busy,
        or ringing (rings until release_targets)."""
        self._engine.script_target(Identifier.parse(raw_id), TargetScript(Outcome(outcome), delay_ms))

    def ringing(self, raw_id: str) -> int:
        """How many rings of a target scripted `ringing` are waiting for release_targets."""
        assert self._engine.held is not None
        return self._engine.held.ringing(Identifier.parse(raw_id).raw_id)

    def release_targets(self, raw_ids: Iterable[str], outcome: str | Outcome = Outcome.ANSWER) -> int:
        """End the waiting rings of targets scripted `ringing`, all at the same instant: answer, decline,
        no-answer (as the invitation timing out) or busy. Returns how many rings ended."""
        assert self._engine.held is not None
        outcome = Outcome(outcome)
        if outcome == Outcome.RINGING:
            raise ValueError("release with answer, decline, no-answer or busy")
        return self._engine.held.release([Identifier.parse(r).raw_id for r in raw_ids], outcome)

    def add_call_locator(self, locator_id: str, participants: Iterable[str] = ()) -> None:
        """Make a groupCallId or roomId known to Connect, with the raw ids already in that call."""
        self._engine.add_locator(locator_id, [Identifier.parse(p) for p in participants])

    def inject_fault(self, operation: str = "*", status: int = 500, count: int = 1, retry_after: float | None = None,
                     code: str | None = None, sub_code: int | None = None) -> None:
        """Fail the next `count` requests of an operation (a spec operationId, or "*") with `status`."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._api.faults.append(Fault(operation, status, count, retry_after, code, sub_code))

    def clear_faults(self) -> None:
        """Drop every fault not yet used."""
        self._api.faults.clear()

    @property
    def events_before_response(self) -> bool:
        """Whether operations deliver their events to the app before answering the request (a network race)."""
        return self._api.events_before_response is not None

    @events_before_response.setter
    def events_before_response(self, on: bool) -> None:
        self._api.events_before_response = self._dispatcher.drained if on else None

    def script_media(self, url: str, outcome: str = "ok", duration_ms: int = 1000) -> None:
        """How an audio file plays: ok for duration_ms, or "invalid" (PlayFailed 8535) or "unreachable" (8536)."""
        self._engine.media.script_media(url, outcome, duration_ms)

    def script_keys(self, raw_id: str, presses: list[str | None]) -> None:
        """What a caller does at each recognize, in order: a key ("1", "#") or None for silence; then silence."""
        self._engine.media.script_keys(raw_id, presses)

    @property
    def recordings(self) -> dict[str, Any]:
        """Recordings by id (recordingId, state, call, container)."""
        return {rid: r.to_json() for rid, r in self._recordings.recordings.items()}

    @property
    def recording_file_events(self) -> list[dict[str, Any]]:
        """The RecordingFileStatusUpdated events published (and delivered to the app)."""
        return self._recordings.published

    async def _publish_recording_file(self, event: dict[str, Any]) -> int | None:
        try:
            return await self.deliver_event_grid(RECORDING_FILE_STATUS_FUNCTION, event)
        except (aiohttp.ClientError, OSError):
            return None

    def _call_ended(self, call: CallConnection) -> None:
        for effect in self._recordings.call_ended(call):
            self._activity.spawn(effect())

    @property
    def ended_calls(self) -> str:
        """How ended calls are answered: "disconnected" (GetCall 200 with that state, actions 400/8501; the default)
        or "not-found" (404/8522 for both), the two answers the service gives."""
        return self._engine.ended_calls

    @ended_calls.setter
    def ended_calls(self, answer: str) -> None:
        if answer not in ENDED_CALL_ANSWERS:
            raise ValueError(f"ended_calls must be one of {', '.join(ENDED_CALL_ANSWERS)}")
        self._engine.ended_calls = answer

    def hang_up(self, call_connection_id: str, raw_id: str | None = None) -> None:
        """A participant (default: the original caller) hangs up; CallDisconnected or ParticipantsUpdated follows."""
        self._launch(self._engine.remote_hang_up(call_connection_id, raw_id))

    # ---- introspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """REST calls received: operation, method, path, status, repeatability_id, body, replayed."""
        return self._api.records

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        """Callbacks posted: call_connection_id, type, event, url, status (None if unreachable), attempts."""
        return self._dispatcher.records

    @property
    def calls(self) -> dict[str, CallConnection]:
        """Every call connection by id, ended ones included."""
        return self._engine.calls

    def call(self, call_connection_id: str) -> CallConnection:
        """One call connection; KeyError if unknown."""
        return self._engine.calls[call_connection_id]

    @property
    def incoming_calls(self) -> list[dict[str, Any]]:
        """Incoming calls and where they stand (without their incomingCallContext)."""
        return [incoming.to_json() for incoming in self._engine.incoming.values()]

    async def idle(self, timeout: float = 5) -> None:
        """Wait until no callback is queued or in flight and no timer runs; TimeoutError otherwise."""
        await self._activity.idle(timeout)

    # ---- callback tokens ----------------------------------------------------------------------

    def mint_callback_token(self, *, key: str = "emulator", headers: dict[str, Any] | None = None,
                            **claims: Any) -> str:
        """A callback JWT; claims override iss/aud/iat/nbf/exp (None drops one), key="foreign" signs with an unknown key."""
        return self._signer.mint(key=key, headers=headers, **claims)

    def jwks(self) -> dict[str, Any]:
        """The key set served at /calling/keys."""
        return self._signer.jwks()

    def openid_configuration(self) -> dict[str, Any]:
        """The metadata served at /calling/.well-known/acsopenidconfiguration."""
        return self._signer.openid_configuration(self.url)

    def _launch(self, reply: Reply) -> None:
        for effect in reply.effects:
            self._activity.spawn(effect())
