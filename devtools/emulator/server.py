"""The Call Automation REST surface: routing, HMAC auth, api-version, faults, repeatability, latency."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web

from .activity import Activity
from .auth import verify_request
from .engine import CallEngine, Reply
from .errors import AcsError, bad_request, not_found
from .jwt_signing import CallbackSigner
from .model import Fault

log = logging.getLogger("devtools.emulator")

# The versions azure-communication-callautomation 1.6.0 knows; it sends the last one by default.
SUPPORTED_API_VERSIONS = frozenset({
    "2023-03-06", "2023-10-15", "2024-04-15", "2024-09-15", "2025-05-15", "2025-06-15", "2026-03-12",
})

Handler = Callable[[CallEngine, dict[str, str], Any, str], Reply]
# ACS tracks repeatable requests for 5 minutes (learn.microsoft.com/rest/api/communication/repeatable-requests).
REPEATABILITY_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Route:
    """One spec operation: verb, path pattern, operationId and what it does."""

    method: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler
    has_body: bool


def _route(method: str, path: str, operation: str, handler: Handler, has_body: bool = True) -> Route:
    regex = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
    # Ids end at ":" (":terminate", ":add"); a raw id ("4:+1...") is a whole segment, colons included.
    regex = re.sub(r"{(\w+)}", lambda m: f"(?P<{m[1]}>[^/]+)" if m[1] == "participantRawId" else f"(?P<{m[1]}>[^/:]+)",
                   regex)
    return Route(method, re.compile(f"^{regex}$"), operation, handler, has_body)


_CALLS = "/calling/callConnections"
_ONE = _CALLS + "/{callConnectionId}"
ROUTES: tuple[Route, ...] = (
    _route("POST", _CALLS, "CreateCall", lambda e, p, b, v: e.create_call(b, v)),
    _route("POST", _CALLS + ":answer", "AnswerCall", lambda e, p, b, v: e.answer_call(b, v)),
    _route("POST", _CALLS + ":redirect", "RedirectCall", lambda e, p, b, v: e.redirect_call(b)),
    _route("POST", _CALLS + ":reject", "RejectCall", lambda e, p, b, v: e.reject_call(b)),
    _route("POST", _CALLS + ":connect", "Connect", lambda e, p, b, v: e.connect(b, v)),
    _route("GET", _ONE, "CallConnection_GetCall",
           lambda e, p, b, v: e.get_call(p["callConnectionId"]), has_body=False),
    _route("DELETE", _ONE, "CallConnection_HangupCall",
           lambda e, p, b, v: e.hang_up(p["callConnectionId"]), has_body=False),
    _route("POST", _ONE + ":terminate", "CallConnection_TerminateCall",
           lambda e, p, b, v: e.terminate(p["callConnectionId"]), has_body=False),
    _route("POST", _ONE + ":transferToParticipant", "CallConnection_TransferToParticipant",
           lambda e, p, b, v: e.transfer(p["callConnectionId"], b)),
    _route("GET", _ONE + "/participants", "CallConnection_GetParticipants",
           lambda e, p, b, v: e.get_participants(p["callConnectionId"]), has_body=False),
    _route("POST", _ONE + "/participants:add", "CallConnection_AddParticipant",
           lambda e, p, b, v: e.add_participant(p["callConnectionId"], b)),
    _route("POST", _ONE + "/participants:remove", "CallConnection_RemoveParticipant",
           lambda e, p, b, v: e.remove_participant(p["callConnectionId"], b)),
    _route("POST", _ONE + "/participants:cancelAddParticipant", "CallConnection_CancelAddParticipant",
           lambda e, p, b, v: e.cancel_add_participant(p["callConnectionId"], b)),
    _route("GET", _ONE + "/participants/{participantRawId}", "CallConnection_GetParticipant",
           lambda e, p, b, v: e.get_participant(p["callConnectionId"], p["participantRawId"]), has_body=False),
)


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a repeatable request, replayed for repeats of its id."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Tracked:
    """A repeatable request by its id: what it asked (to compare repeats with) and its outcome once known."""

    fingerprint: tuple[str, str, str]
    outcome: asyncio.Future[StoredResponse | None]


def _match(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(raw_path)
        if found:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


def _is_storable(status: int) -> bool:
    # Transient failures are not the request's outcome: a retry with the same id must run it.
    return status != 401 and status != 429 and status < 500


class AcsApi:
    """aiohttp handlers for /calling/*: everything the real service checks before and after acting."""

    def __init__(self, engine: CallEngine, activity: Activity, signer: CallbackSigner, secret: bytes,
                 latency_ms: int) -> None:
        self._engine = engine
        self._activity = activity
        self._signer = signer
        self._secret = secret
        self.latency_s = latency_ms / 1000
        # When set (by Emulator.events_before_response), awaited after an operation's events are delivered and
        # before its HTTP response is sent.
        self.events_before_response: Callable[[], Awaitable[None]] | None = None
        self._repeatable: dict[str, Tracked] = {}
        self.faults: list[Fault] = []
        self.records: list[dict[str, Any]] = []
        self.base_url = ""

    def add_routes(self, app: web.Application) -> None:
        """Register the key set, the OpenID metadata and the Call Automation operations."""
        app.router.add_get("/calling/keys", self._keys)
        app.router.add_get("/calling/.well-known/acsopenidconfiguration", self._openid)
        app.router.add_route("*", "/calling/{tail:.*}", self._handle)

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response(self._signer.jwks())

    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response(self._signer.openid_configuration(self.base_url))

    def _take_fault(self, operation: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.matches(operation):
                if fault.remaining <= 1:
                    del self.faults[index]
                else:
                    self.faults[index] = replace(fault, remaining=fault.remaining - 1)
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path
        path_only = raw_path.split("?", 1)[0]
        matched = _match(request.method, path_only)
        operation = matched[0].operation if matched else "Unknown"
        repeatability_id = request.headers.get("Repeatability-Request-ID")
        body = await request.read()
        record: dict[str, Any] = {
            "operation": operation,
            "method": request.method,
            "path": raw_path,
            "status": 0,
            "repeatability_id": repeatability_id,
            "body": _parse_or_none(body),
            "replayed": False,
        }
        self.records.append(record)
        owned: asyncio.Future[StoredResponse | None] | None = None
        reply = Reply(500)
        response: web.Response | None = None
        try:
            verify_request(request.method, raw_path, request.headers, body, self._secret)
            api_version = _api_version(request)
            if matched is None:
                raise not_found(f"No Call Automation operation {request.method} {path_only}.")
            route, params = matched
            fault = self._take_fault(operation)
            if fault is not None:
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                raise _fault_error(fault)
            if repeatability_id is not None:
                _check_repeatability(repeatability_id, request.headers.get("Repeatability-First-Sent"))
                stored, owned = self._claim(repeatability_id, (request.method, path_only, _canonical(body)))
                if stored is not None:
                    record["replayed"] = True
                    record["status"] = stored.status
                    log.info("%s %s -> %d (repeat)", request.method, operation, stored.status)
                    return web.Response(status=stored.status, body=stored.body or None, headers=dict(stored.headers))
            if self.latency_s:
                # The request is being processed for this long: a repeat arriving meanwhile finds it in progress.
                await asyncio.sleep(self.latency_s)
            payload = _parse_json(body) if route.has_body else None
            reply = route.handler(self._engine, params, payload, api_version)
            response = _reply_response(reply)
        except AcsError as error:
            reply = Reply(error.status)
            response = _error_response(error)
        except Exception:
            log.exception("emulator failed on %s", operation)
            reply = Reply(500)
            response = _error_response(AcsError(500, "The emulator failed; see its log."))
        finally:
            if owned is not None:
                self._settle(repeatability_id or "", owned, response)
        record["status"] = response.status
        log.info("%s %s -> %d", request.method, operation, response.status)
        return await self._send_then_act(request, response, reply)

    def _claim(self, repeatability_id: str, fingerprint: tuple[str, str, str]
               ) -> tuple[StoredResponse | None, asyncio.Future[StoredResponse | None] | None]:
        """Return the stored response for a repeat, or take ownership of a new id.

        As the repeatable-requests rules say: a repeat that does not match the first request is 400; a repeat
        while the first is still being processed is 409; otherwise the first request's 2xx/4xx answer again.
        """
        existing = self._repeatable.get(repeatability_id)
        if existing is None:
            owned: asyncio.Future[StoredResponse | None] = asyncio.get_running_loop().create_future()
            self._repeatable[repeatability_id] = Tracked(fingerprint, owned)
            return None, owned
        if existing.fingerprint != fingerprint:
            raise bad_request("The request does not match the earlier request with this Repeatability-Request-ID.")
        if not existing.outcome.done() or existing.outcome.result() is None:
            raise AcsError(409, "The request with this Repeatability-Request-ID is still being processed.", "Conflict")
        return existing.outcome.result(), None

    def _settle(self, repeatability_id: str, owned: asyncio.Future[StoredResponse | None],
                response: web.Response | None) -> None:
        if response is not None and _is_storable(response.status):
            body = response.body if isinstance(response.body, bytes) else b""
            headers = tuple((k, v) for k, v in response.headers.items() if k.lower() in ("content-type", "retry-after"))
            owned.set_result(StoredResponse(response.status, body, headers))
        else:
            # A 5xx (or 429, 401) is not the request's outcome: a repeat runs it again.
            del self._repeatable[repeatability_id]
            owned.set_result(None)

    async def _send_then_act(self, request: web.Request, response: web.Response, reply: Reply) -> web.Response:
        # The service answers the HTTP request first; the events of the operation come after.
        effects = reply.effects if response.status < 400 else ()
        if effects and self.events_before_response is not None:
            # A network race the real service can produce: the result events reach the app before the
            # HTTP response to the request that caused them.
            for effect in effects:
                await effect()
            await self.events_before_response()
            return response
        for _ in effects:
            self._activity.begin()
        try:
            await response.prepare(request)
            await response.write_eof()
        finally:
            for effect in effects:
                self._activity.spawn(effect())
                self._activity.end()
        return response


def _api_version(request: web.Request) -> str:
    version = request.query.get("api-version")
    if not version:
        raise AcsError(400, "The api-version query parameter is required.", "MissingApiVersionParameter")
    if version not in SUPPORTED_API_VERSIONS:
        raise AcsError(400, f"The api-version '{version}' is not supported.", "UnsupportedApiVersion")
    return version


def _check_repeatability(request_id: str, first_sent: str | None) -> None:
    """The header checks of the repeatable-requests rules: 400 for a malformed id or date, 412 past the window."""
    if not first_sent:
        raise bad_request("Repeatability-First-Sent is required with Repeatability-Request-ID.")
    try:
        parsed_id = uuid.UUID(request_id)
    except ValueError:
        raise bad_request("Repeatability-Request-ID must be a UUID.") from None
    if parsed_id.version != 4 or parsed_id.variant != uuid.RFC_4122 or str(parsed_id) != request_id.lower():
        # The spec describes the header as "a version 4 (random) UUID"; the stricter reading is enforced.
        raise bad_request("Repeatability-Request-ID must be a version 4 UUID.")
    try:
        sent_at = parsedate_to_datetime(first_sent)
    except (TypeError, ValueError, IndexError):
        raise bad_request("Repeatability-First-Sent must be an IMF-fixdate (RFC 7231) time.") from None
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=timezone.utc)
    if datetime.now(timezone.utc) - sent_at > REPEATABILITY_WINDOW:
        raise AcsError(412, "Repeatability-First-Sent is not within the 5-minute tracking window.",
                       "PreconditionFailed")


def _canonical(body: bytes) -> str:
    parsed = _parse_or_none(body)
    if parsed is None:
        return body.decode("utf-8", "replace")
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def _parse_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _parse_json(body: bytes) -> Any:
    if not body:
        raise bad_request("The request body is required.")
    try:
        return json.loads(body)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None


def _fault_error(fault: Fault) -> AcsError:
    headers = {}
    if fault.retry_after is not None:
        # azure-core reads Retry-After as (possibly fractional) seconds.
        value = fault.retry_after
        headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
    return AcsError(fault.status, f"Injected fault for {fault.operation}.", fault.code, headers, fault.sub_code)


def _reply_response(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status)
    return web.Response(status=reply.status, body=json.dumps(reply.body).encode("utf-8"),
                        content_type="application/json")


def _error_response(error: AcsError) -> web.Response:
    return web.Response(status=error.status, body=json.dumps(error.body()).encode("utf-8"),
                        content_type="application/json", headers=error.headers)
