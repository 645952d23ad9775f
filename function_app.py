"""callsteer's Azure Functions: triggers only. Each parses its input, calls one handler and shapes the response."""

import logging

import azure.functions as func

from shared import handlers, telemetry
from shared.bootstrap import get_services
from shared.domain.call import DIRECTIONS, STATES
from shared.domain.events import INCOMING_CALL, parse_callback_body, parse_incoming_call, stale_reason
from shared.domain.identifiers import CALL_ID, is_wire_id
from shared.domain.recordings import RECORDING_FILE_STATUS_UPDATED, parse_recording_file_status
from shared.errors import NotFound, StoreUnavailable, ValidationError
from shared.http import (
    invitation_id_param, json_body, json_response, openapi_response, operation_context_param, query_choice, query_int,
    read_body, respond, route_id,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("callsteer")
# With APPLICATIONINSIGHTS_CONNECTION_STRING set, traces and metrics go to Application Insights (the distro is
# imported now, when the host loads the app, not during the first ring). Each trigger is one span.
telemetry.configure()


def escape(value: object) -> str:
    """Wire text made safe for one log line."""
    return repr(str(value))[1:-1][:200]


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
    services = await get_services()
    stale = stale_reason(incoming, services.clock() - services.clock_offset)  # the event's age on the wire's clock
    if stale:
        log.warning("IncomingCall %s (correlation %s) gets no action: %s", incoming.event_id, incoming.correlation_id,
                    stale)
        return
    try:
        # Raises only where Event Grid's redelivery can help (the handler records every other failure).
        await handlers.on_incoming_call(services, incoming)
    except StoreUnavailable:
        # The ACS action is done; a redelivery repeats it under the same repeatability id (ACS acts once) and
        # then records it.
        log.error("IncomingCall %s: decision carried out but not recorded; asking for redelivery", event.id)
        raise


@app.event_grid_trigger(arg_name="event")
@telemetry.invocation
async def recording_file_status(event: func.EventGridEvent) -> None:
    """A recording's file is ready: record the voicemail on its call and in the voicemail list."""
    if event.event_type != RECORDING_FILE_STATUS_UPDATED:
        log.info("event %s of type %s ignored: only %s is handled", escape(event.id), escape(event.event_type),
                 RECORDING_FILE_STATUS_UPDATED)
        return
    try:
        ready = parse_recording_file_status(event.id, event.subject, event.get_json())
    except ValidationError as exc:
        log.warning("RecordingFileStatusUpdated %s refused: %s", escape(event.id), escape(str(exc)))
        return
    # Raises only StoreUnavailable: Event Grid's redelivery records it then (the writes are idempotent).
    await handlers.on_recording_file_status(await get_services(), ready)


@app.route(route="voicemails", methods=["GET"])
@telemetry.invocation
async def list_voicemails(req: func.HttpRequest) -> func.HttpResponse:
    """Voicemails left through call flows, newest first."""

    async def work(services):
        limit = query_int(req, "limit", default=50, low=1, high=500)
        return json_response({"voicemails": await handlers.list_voicemails(services, limit)})

    return await respond(work)


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


@app.timer_trigger(schedule="0 */10 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
async def retention(timer: func.TimerRequest) -> None:
    """Delete calls (every row), legs rows and voicemails older than CALL_RETENTION_DAYS, a bounded batch per run."""
    outcome = await handlers.purge_expired(await get_services())
    if timer.past_due:
        log.info("retention ran late (past due); deleted %d calls, %d legs rows, %d voicemails, %d recording links%s",
                 outcome.calls, outcome.legs, outcome.voicemails, outcome.links,
                 "; more are left for the next run" if outcome.more else "")


@app.route(route="calls/{callId}", methods=["GET"])
@telemetry.invocation
async def get_call(req: func.HttpRequest) -> func.HttpResponse:
    """One call: its state, participants, decision and event log."""

    async def work(services):
        return json_response(await handlers.get_call(services, route_id(req, "callId")))

    return await respond(work)


async def _listing(services, req: func.HttpRequest) -> dict:
    limit = query_int(req, "limit", default=50, low=1, high=500)
    state, direction = query_choice(req, "state", STATES), query_choice(req, "direction", DIRECTIONS)
    cursor = req.params.get("cursor") or None
    return await handlers.list_calls(services, limit, state, direction, cursor)


@app.route(route="calls", methods=["GET"])
@telemetry.invocation
async def list_calls(req: func.HttpRequest) -> func.HttpResponse:
    """Calls, newest first, a page at a time (`next` is the cursor of the next page), with optional filters."""

    async def work(services):
        return json_response(await _listing(services, req))

    return await respond(work)


@app.route(route="calls", methods=["POST"])
@telemetry.invocation
async def create_call(req: func.HttpRequest) -> func.HttpResponse:
    """Place a call to one target (1:1) or several (group)."""

    async def work(services):
        return json_response(await handlers.create_call(services, json_body(req)), status=201)

    return await respond(work)


@app.route(route="calls:connect", methods=["POST"])
@telemetry.invocation
async def connect_call(req: func.HttpRequest) -> func.HttpResponse:
    """Connect to an existing server call, group call or room."""

    async def work(services):
        return json_response(await handlers.connect_call(services, json_body(req)), status=201)

    return await respond(work)


@app.route(route="calls/{callId}/transfer", methods=["POST"])
@telemetry.invocation
async def transfer_call(req: func.HttpRequest) -> func.HttpResponse:
    """Transfer the call (or, with a transferee, one participant of a group call) to a target."""

    async def work(services):
        body = json_body(req)
        return json_response(await handlers.transfer(services, route_id(req, "callId"), body), status=202)

    return await respond(work)


@app.route(route="calls/{callId}/participants", methods=["POST"])
@telemetry.invocation
async def add_participant(req: func.HttpRequest) -> func.HttpResponse:
    """Invite a participant into the call."""

    async def work(services):
        body = json_body(req)
        return json_response(await handlers.add_participant(services, route_id(req, "callId"), body), status=202)

    return await respond(work)


@app.route(route="calls/{callId}/invitations/{invitationId}", methods=["DELETE"])
@telemetry.invocation
async def cancel_invitation(req: func.HttpRequest) -> func.HttpResponse:
    """Cancel a pending invitation."""

    async def work(services):
        outcome = await handlers.cancel_invitation(services, route_id(req, "callId"),
                                                   invitation_id_param(req), operation_context_param(req))
        return json_response(outcome, status=202)

    return await respond(work)


@app.route(route="calls/{callId}/participants/{rawId}", methods=["DELETE"])
@telemetry.invocation
async def remove_participant(req: func.HttpRequest) -> func.HttpResponse:
    """Remove a participant (its raw id URL-encoded) from the call."""

    async def work(services):
        outcome = await handlers.remove_participant(services, route_id(req, "callId"), req.route_params["rawId"],
                                                    operation_context_param(req))
        return json_response(outcome, status=202)

    return await respond(work)


@app.route(route="calls/{callId}/hangup", methods=["POST"])
@telemetry.invocation
async def hang_up(req: func.HttpRequest) -> func.HttpResponse:
    """Hang up: for everyone (terminate) or only the app."""

    async def work(services):
        body = json_body(req)
        return json_response(await handlers.hang_up(services, route_id(req, "callId"), body), status=202)

    return await respond(work)


@app.route(route="rules:simulate", methods=["POST"])
@telemetry.invocation
async def simulate_rules(req: func.HttpRequest) -> func.HttpResponse:
    """Which rule takes this call: the decision and every rule evaluated; never calls ACS, writes nothing."""

    async def work(services):
        return json_response(await handlers.simulate_rules(services, json_body(req)))

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


@app.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.invocation
def console(req: func.HttpRequest) -> func.HttpResponse:
    """The operator console page: static, no data in it; the browser reads the calls from console_data."""
    from shared import console as page
    return page.page()


@app.route(route="console/data", methods=["GET"])
@telemetry.invocation
async def console_data(req: func.HttpRequest) -> func.HttpResponse:
    """The console's read-only view, behind its own function key: the listing, or one call with ?call=ID."""

    async def work(services):
        wanted = req.params.get("call")
        if wanted is None:
            return json_response(await _listing(services, req))
        if not is_wire_id(wanted, CALL_ID):
            raise NotFound("no call with that id")
        return json_response(await handlers.get_call(services, wanted))

    return await respond(work)


@app.route(route="console/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.invocation
def console_assets(req: func.HttpRequest) -> func.HttpResponse:
    """The console's script and style sheet: static, no data (a <script src> cannot carry the function key)."""
    from shared import console as page
    return page.asset(req.route_params.get("name", ""))
