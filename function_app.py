"""callsteer's Azure Functions: triggers only. Each parses its input, calls one handler and shapes the response."""

import logging

import azure.functions as func

from shared import handlers
from shared.bootstrap import get_services
from shared.domain.call import DIRECTIONS, STATES
from shared.domain.events import INCOMING_CALL, parse_callback_body, parse_incoming_call
from shared.errors import AcsError, StoreUnavailable, ValidationError
from shared.http import json_response, query_choice, query_int, read_body, respond

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("callsteer")


@app.event_grid_trigger(arg_name="event")
async def incoming_call(event: func.EventGridEvent) -> None:
    """Answer, reject or redirect a ringing call by the routing rules."""
    if event.event_type != INCOMING_CALL:
        log.info("event %s of type %s ignored: only %s is handled", event.id, event.event_type, INCOMING_CALL)
        return
    try:
        incoming = parse_incoming_call(event.id, event.event_time, event.get_json())
    except ValidationError as exc:
        log.warning("IncomingCall %s refused: %s", event.id, exc)
        return
    try:
        await handlers.on_incoming_call(await get_services(), incoming)
    except StoreUnavailable:
        # The ACS action is done; a redelivery repeats it under the same repeatability id (ACS acts once) and
        # then records it. Raising is what asks Event Grid to redeliver.
        log.error("IncomingCall %s: decision carried out but not recorded; asking for redelivery", event.id)
        raise
    except AcsError as exc:
        if exc.retryable:
            raise


@app.route(route="callbacks/{callKey}/{token}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def callbacks(req: func.HttpRequest) -> func.HttpResponse:
    """Receive Call Automation's callback events for one call and update its state."""

    async def work(services):
        call_key = req.route_params.get("callKey", "")
        await handlers.authenticate_callback(services, call_key, req.route_params.get("token", ""),
                                             req.headers.get("Authorization"))
        events = parse_callback_body(read_body(req))
        outcome = await handlers.on_callback(services, call_key, events)
        return json_response({"applied": outcome.applied, "duplicates": outcome.duplicates})

    return await respond(work)


@app.route(route="calls/{callId}", methods=["GET"])
async def get_call(req: func.HttpRequest) -> func.HttpResponse:
    """One call: its state, participants, decision and event log."""

    async def work(services):
        return json_response(await handlers.get_call(services, req.route_params["callId"]))

    return await respond(work)


@app.route(route="calls", methods=["GET"])
async def list_calls(req: func.HttpRequest) -> func.HttpResponse:
    """Calls, newest first, with optional state and direction filters."""

    async def work(services):
        limit = query_int(req, "limit", default=50, low=1, high=500)
        state, direction = query_choice(req, "state", STATES), query_choice(req, "direction", DIRECTIONS)
        return json_response({"calls": await handlers.list_calls(services, limit, state, direction)})

    return await respond(work)
