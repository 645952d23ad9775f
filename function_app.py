"""callsteer's Azure Functions: triggers only. Each parses its input, calls one handler and shapes the response."""

import logging

import azure.functions as func

from shared import handlers, telemetry
from shared.bootstrap import get_services
from shared.domain.call import DIRECTIONS, STATES
from shared.domain.events import INCOMING_CALL, parse_callback_body, parse_incoming_call
from shared.errors import StoreUnavailable, ValidationError
from shared.domain.requests import parse_json_object
from shared.http import (
    json_response, openapi_response, operation_context_param, query_choice, query_int, read_body, respond,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("callsteer")
# With APPLICATIONINSIGHTS_CONNECTION_STRING set, traces and metrics go to Application Insights (the distro is
# imported now, when the host loads the app, not during the first ring). Each trigger is one span.
telemetry.configure()


@app.event_grid_trigger(arg_name="event")
@telemetry.invocation
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
        # Raises only where Event Grid's redelivery can help (the handler records every other failure).
        await handlers.on_incoming_call(await get_services(), incoming)
    except StoreUnavailable:
        # The ACS action is done; a redelivery repeats it under the same repeatability id (ACS acts once) and
        # then records it.
        log.error("IncomingCall %s: decision carried out but not recorded; asking for redelivery", event.id)
        raise


@app.route(route="callbacks/{callKey}/{token}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.invocation
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
@telemetry.invocation
async def get_call(req: func.HttpRequest) -> func.HttpResponse:
    """One call: its state, participants, decision and event log."""

    async def work(services):
        return json_response(await handlers.get_call(services, req.route_params["callId"]))

    return await respond(work)


@app.route(route="calls", methods=["GET"])
@telemetry.invocation
async def list_calls(req: func.HttpRequest) -> func.HttpResponse:
    """Calls, newest first, with optional state and direction filters."""

    async def work(services):
        limit = query_int(req, "limit", default=50, low=1, high=500)
        state, direction = query_choice(req, "state", STATES), query_choice(req, "direction", DIRECTIONS)
        return json_response({"calls": await handlers.list_calls(services, limit, state, direction)})

    return await respond(work)


@app.route(route="calls", methods=["POST"])
@telemetry.invocation
async def create_call(req: func.HttpRequest) -> func.HttpResponse:
    """Place a call to one target (1:1) or several (group)."""

    async def work(services):
        return json_response(await handlers.create_call(services, parse_json_object(read_body(req))), status=201)

    return await respond(work)


@app.route(route="calls:connect", methods=["POST"])
@telemetry.invocation
async def connect_call(req: func.HttpRequest) -> func.HttpResponse:
    """Connect to an existing server call, group call or room."""

    async def work(services):
        return json_response(await handlers.connect_call(services, parse_json_object(read_body(req))), status=201)

    return await respond(work)


@app.route(route="calls/{callId}/transfer", methods=["POST"])
@telemetry.invocation
async def transfer_call(req: func.HttpRequest) -> func.HttpResponse:
    """Transfer the call (or, with a transferee, one participant of a group call) to a target."""

    async def work(services):
        body = parse_json_object(read_body(req))
        return json_response(await handlers.transfer(services, req.route_params["callId"], body), status=202)

    return await respond(work)


@app.route(route="calls/{callId}/participants", methods=["POST"])
@telemetry.invocation
async def add_participant(req: func.HttpRequest) -> func.HttpResponse:
    """Invite a participant into the call."""

    async def work(services):
        body = parse_json_object(read_body(req))
        return json_response(await handlers.add_participant(services, req.route_params["callId"], body), status=202)

    return await respond(work)


@app.route(route="calls/{callId}/invitations/{invitationId}", methods=["DELETE"])
@telemetry.invocation
async def cancel_invitation(req: func.HttpRequest) -> func.HttpResponse:
    """Cancel a pending invitation."""

    async def work(services):
        outcome = await handlers.cancel_invitation(services, req.route_params["callId"],
                                                   req.route_params["invitationId"], operation_context_param(req))
        return json_response(outcome, status=202)

    return await respond(work)


@app.route(route="calls/{callId}/participants/{rawId}", methods=["DELETE"])
@telemetry.invocation
async def remove_participant(req: func.HttpRequest) -> func.HttpResponse:
    """Remove a participant (its raw id URL-encoded) from the call."""

    async def work(services):
        outcome = await handlers.remove_participant(services, req.route_params["callId"], req.route_params["rawId"],
                                                    operation_context_param(req))
        return json_response(outcome, status=202)

    return await respond(work)


@app.route(route="calls/{callId}/hangup", methods=["POST"])
@telemetry.invocation
async def hang_up(req: func.HttpRequest) -> func.HttpResponse:
    """Hang up: for everyone (terminate) or only the app."""

    async def work(services):
        body = parse_json_object(read_body(req))
        return json_response(await handlers.hang_up(services, req.route_params["callId"], body), status=202)

    return await respond(work)


@app.route(route="rules:simulate", methods=["POST"])
@telemetry.invocation
async def simulate_rules(req: func.HttpRequest) -> func.HttpResponse:
    """Which rule takes this call: the decision and every rule evaluated; never calls ACS, writes nothing."""

    async def work(services):
        return json_response(await handlers.simulate_rules(services, parse_json_object(read_body(req))))

    return await respond(work)


@app.route(route="stats", methods=["GET"])
@telemetry.invocation
async def get_stats(req: func.HttpRequest) -> func.HttpResponse:
    """Daily figures per rule: offered, answered, rejected, redirected, failed; ring groups and answer times."""

    async def work(services):
        return json_response(await handlers.get_stats(services, query_int(req, "days", default=7, low=1, high=31)))

    return await respond(work)


@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.invocation
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 3 document of this API."""
    return openapi_response()


@app.route(route="console", methods=["GET"])
@telemetry.invocation
def console(req: func.HttpRequest) -> func.HttpResponse:
    """The operator console: the calls and each call's sequence diagram, read from the state API in the browser."""
    from shared import console as page
    return page.page()


@app.route(route="console/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.invocation
def console_assets(req: func.HttpRequest) -> func.HttpResponse:
    """The console's script and style sheet: static, no data (a <script src> cannot carry the function key)."""
    from shared import console as page
    return page.asset(req.route_params.get("name", ""))
