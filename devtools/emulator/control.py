"""Test-control HTTP endpoints under /emulator/ (not part of ACS), mirroring the Emulator's methods."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from .errors import AcsError, bad_request, not_found
from .model import Outcome

if TYPE_CHECKING:
    from .emulator import Emulator

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode("utf-8"), content_type="application/json",
                        headers=headers)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        payload = await request.json()
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object.")
    return payload


def _guarded(handler: ControlHandler) -> ControlHandler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AcsError as error:
            return _json(error.body(), error.status)
        except (ValueError, TypeError) as error:
            return _json(bad_request(str(error)).body(), 400)
    return wrapped


def add_control_routes(app: web.Application, emu: Emulator) -> None:
    """Register the /emulator/* routes for emu."""

    async def post_incoming_call(request: web.Request) -> web.Response:
        body = await _body(request)
        event = emu.incoming_call(
            from_=body.get("from", "+14255550123"), to=body.get("to", "+18005550100"),
            caller_display_name=body.get("callerDisplayName"), sip_headers=body.get("sipHeaders"),
            voip_headers=body.get("voipHeaders"),
        )
        headers = {}
        if request.query.get("deliver", "true").lower() != "false":
            headers["X-Emulator-Delivery-Status"] = str(await emu.deliver_incoming_call(event))
        return _json(event, 201, headers)

    async def put_target(request: web.Request) -> web.Response:
        body = await _body(request)
        emu.script_target(request.match_info["raw_id"], Outcome(body.get("outcome", "answer")),
                          int(body.get("delayMs", 0)))
        return web.Response(status=204)

    async def put_locator(request: web.Request) -> web.Response:
        body = await _body(request)
        emu.add_call_locator(request.match_info["locator_id"], body.get("participants", []))
        return web.Response(status=204)

    async def post_fault(request: web.Request) -> web.Response:
        body = await _body(request)
        emu.inject_fault(operation=body.get("operation", "*"), status=int(body.get("status", 500)),
                         count=int(body.get("count", 1)), retry_after=body.get("retryAfter"),
                         code=body.get("code"), sub_code=body.get("subCode"))
        return web.Response(status=204)

    async def delete_faults(request: web.Request) -> web.Response:
        emu.clear_faults()
        return web.Response(status=204)

    async def put_ended_calls(request: web.Request) -> web.Response:
        body = await _body(request)
        emu.ended_calls = body.get("answer", "disconnected")
        return web.Response(status=204)

    async def post_hang_up(request: web.Request) -> web.Response:
        body = await _body(request)
        emu.hang_up(request.match_info["call_id"], body.get("rawId"))
        return web.Response(status=204)

    async def get_requests(request: web.Request) -> web.Response:
        return _json(emu.requests)

    async def get_callbacks(request: web.Request) -> web.Response:
        return _json(emu.callbacks)

    async def get_calls(request: web.Request) -> web.Response:
        return _json({"calls": [c.to_json() for c in emu.calls.values()], "incomingCalls": emu.incoming_calls})

    async def get_call(request: web.Request) -> web.Response:
        call = emu.calls.get(request.match_info["call_id"])
        if call is None:
            raise not_found("No such call connection.")
        return _json(call.to_json())

    async def post_idle(request: web.Request) -> web.Response:
        try:
            await emu.idle(float(request.query.get("timeout", "5")))
        except TimeoutError:
            return _json(AcsError(408, "The emulator did not become idle in time.").body(), 408)
        return web.Response(status=204)

    async def post_callback_token(request: web.Request) -> web.Response:
        body = await _body(request)
        key = body.pop("key", "emulator")
        return _json({"token": emu.mint_callback_token(key=key, **body)})

    routes = [
        ("POST", "/emulator/incoming-calls", post_incoming_call),
        ("PUT", "/emulator/targets/{raw_id}", put_target),
        ("PUT", "/emulator/locators/{locator_id}", put_locator),
        ("POST", "/emulator/faults", post_fault),
        ("DELETE", "/emulator/faults", delete_faults),
        ("POST", "/emulator/calls/{call_id}/hang-up", post_hang_up),
        ("PUT", "/emulator/ended-calls", put_ended_calls),
        ("GET", "/emulator/requests", get_requests),
        ("GET", "/emulator/callbacks", get_callbacks),
        ("GET", "/emulator/calls", get_calls),
        ("GET", "/emulator/calls/{call_id}", get_call),
        ("POST", "/emulator/idle", post_idle),
        ("POST", "/emulator/callback-tokens", post_callback_token),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guarded(handler))
