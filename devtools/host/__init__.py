"""A local stand-in for the Functions host: serves what function_app.py registers, at Core Tools' URLs.

HTTP triggers answer under /{routePrefix}/ (host.json, default "api"); Event Grid deliveries arrive at
POST /runtime/webhooks/eventgrid?functionName=NAME with the `aeg-event-type` header, and the
subscription-validation handshake is answered as the Event Grid extension answers it.
Functions are invoked the way the host invokes them: with func.HttpRequest / func.EventGridEvent built
from the wire, async functions awaited on the server's event loop, sync ones run in a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import azure.functions as func
from aiohttp import web

from shared.domain.events import parse_time
from shared.errors import ValidationError

log = logging.getLogger("callsteer.host")
EVENTGRID_WEBHOOK = "/runtime/webhooks/eventgrid"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def load_local_settings(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """Copy local.settings.json's Values into the environment without overriding what is set; returns names set."""
    environ = os.environ if environ is None else environ
    if not path.exists():
        return []
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    applied = []
    for name, value in values.items():
        if name not in environ and isinstance(value, str):
            environ[name] = value
            applied.append(name)
    return applied


def route_prefix(host_json: Path) -> str:
    """The HTTP route prefix from host.json, as the Functions host reads it."""
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "api"
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return prefix.strip("/")


_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_CONSTRAINTS = {"int": r"-?\d+", "guid": r"[0-9a-fA-F-]{36}", "alpha": r"[A-Za-z]+", "bool": r"true|false"}


def to_aiohttp_route(template: str) -> str:
    """Translate a Functions route template ({id}, {id:int}, {*rest}) into an aiohttp path."""

    def convert(match: re.Match[str]) -> str:
        catch_all, name, constraint = match.groups()
        if catch_all:
            return "{%s:.*}" % name
        if constraint:
            return "{%s:%s}" % (name, _CONSTRAINTS.get(constraint.split("(")[0], "[^/]+"))
        return "{%s}" % name

    return _PARAM.sub(convert, template)


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    call: Callable[..., Any]
    arg_name: str


@dataclass(frozen=True)
class EventGridFunction:
    name: str
    call: Callable[..., Any]
    arg_name: str


def _value(x: Any) -> str:
    return getattr(x, "value", x)


_DISCOVERED: dict[int, tuple[list[HttpFunction], dict[str, EventGridFunction]]] = {}


def discover(app: func.FunctionApp) -> tuple[list[HttpFunction], dict[str, EventGridFunction]]:
    """The HTTP and Event Grid functions an app registers, read from its bindings as the host reads them."""
    # FunctionApp.get_functions() indexes the app and refuses to run twice: read it once per app.
    if id(app) not in _DISCOVERED:
        _DISCOVERED[id(app)] = _index(app)
    return _DISCOVERED[id(app)]


def _index(app: func.FunctionApp) -> tuple[list[HttpFunction], dict[str, EventGridFunction]]:
    http, eventgrid = [], {}
    for function in app.get_functions():
        trigger = function.get_trigger()
        name = function.get_function_name()
        binding = function.get_bindings_dict()["bindings"][0]
        if _value(trigger.type) == "httpTrigger":
            methods = tuple(_value(m).upper() for m in (binding.get("methods") or ["GET", "POST", "PUT", "DELETE"]))
            http.append(HttpFunction(name, binding.get("route") or name, methods,
                                     _value(binding.get("authLevel", "function")), function.get_user_function(),
                                     binding["name"]))
        elif _value(trigger.type) == "eventGridTrigger":
            eventgrid[name] = EventGridFunction(name, function.get_user_function(), binding["name"])
    # Like ASP.NET routing: literal segments win over parameters, so register the most literal routes first.
    http.sort(key=lambda f: (-len(_PARAM.sub("", f.route)), f.route))
    return http, eventgrid


async def _invoke(call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(call):
        return await call(**kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, lambda: call(**kwargs))


def _to_aiohttp(response: Any) -> web.Response:
    if response is None:
        return web.Response(status=204)
    headers = dict(response.headers)
    body = response.get_body()
    if "Content-Type" not in headers and "content-type" not in headers and response.mimetype:
        charset = f"; charset={response.charset}" if response.charset else ""
        headers["Content-Type"] = f"{response.mimetype}{charset}"
    return web.Response(status=response.status_code, body=body, headers=headers)


def _event_time(value: Any) -> datetime | None:
    """Event Grid's eventTime as the host hands it to the trigger (None when absent or unreadable)."""
    try:
        return parse_time(value, "eventTime")
    except ValidationError:
        return None


class LocalHost:
    """An aiohttp application serving a FunctionApp's functions at the URLs the Functions host uses."""

    def __init__(self, app: func.FunctionApp, prefix: str = "api") -> None:
        self.http_functions, self.eventgrid_functions = discover(app)
        self.prefix = prefix
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def make_app(self) -> web.Application:
        web_app = web.Application(client_max_size=4 * 1024 * 1024)
        for function in self.http_functions:
            path = "/" + "/".join(p for p in (self.prefix, to_aiohttp_route(function.route)) if p)
            for method in function.methods:
                web_app.router.add_route(method, path, self._http_handler(function))
        web_app.router.add_post(EVENTGRID_WEBHOOK, self._eventgrid)
        return web_app

    def _http_handler(self, function: HttpFunction) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            req = func.HttpRequest(method=request.method, url=str(request.url), headers=dict(request.headers),
                                   params=dict(request.query), route_params=dict(request.match_info), body=body)
            try:
                response = await _invoke(function.call, {function.arg_name: req})
            except Exception:
                log.exception("function %s failed", function.name)
                return web.Response(status=500, text="function failed")
            return _to_aiohttp(response)

        return handle

    async def _eventgrid(self, request: web.Request) -> web.Response:
        name = request.query.get("functionName", "")
        function = self.eventgrid_functions.get(name)
        if function is None:
            return web.json_response({"error": f"no Event Grid function named {name!r}"}, status=404)
        try:
            events = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return web.json_response({"error": "body must be an array of Event Grid events"}, status=400)
        kind = request.headers.get("aeg-event-type", "")
        if kind == "SubscriptionValidation":
            code = (events[0].get("data") or {}).get("validationCode") if events else None
            if not code:
                return web.json_response({"error": "validation event has no validationCode"}, status=400)
            return web.json_response({"validationResponse": code})
        if kind != "Notification":
            return web.json_response({"error": "aeg-event-type must be Notification or SubscriptionValidation"},
                                     status=400)
        for raw in events:
            event = func.EventGridEvent(id=raw.get("id"), data=raw.get("data"), topic=raw.get("topic"),
                                        subject=raw.get("subject"), event_type=raw.get("eventType"),
                                        event_time=_event_time(raw.get("eventTime")),
                                        data_version=raw.get("dataVersion"))
            try:
                await _invoke(function.call, {function.arg_name: event})
            except Exception:
                log.exception("function %s failed on event %s", name, raw.get("id"))
                # Event Grid treats a non-2xx answer as a failed delivery and retries it.
                return web.json_response({"error": "function failed"}, status=500)
        return web.Response(status=200)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # aiohttp's own parser refuses request lines over 8190 bytes with a plain-text 400 before any function
        # runs; a larger limit lets the app's validation answer over-long ids and paths with its problem
        # document, which is what the tests are about.
        self._runner = web.AppRunner(self.make_app(), access_log=None,
                                     max_line_size=65536, max_field_size=65536)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
