"""The call control API: each action is recorded as a pending operation, sent to ACS, and settled."""

from __future__ import annotations

import uuid
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Awaitable, Callable

from shared.adapters.acs import Connection, Repeatability
from shared.bootstrap import Services
from shared.domain import operations as ops
from shared.domain import requests as rq
from shared.domain.call import CONNECTING, OUTBOUND, Call
from shared.domain.callback_tokens import new_call_key
from shared.domain.identifiers import parse_target
from shared.domain.operations import Operation
from shared.errors import AcsError, Conflict, ValidationError
from shared.handlers.core import (
    accepted, ended_at_acs, failed, may_have_ended, reconcile_as_ended, record_new, repeat_for, run, settle, update,
    url,
)

log = logging.getLogger("callsteer")

def _context(given: str | None, action: str) -> str:
    return given or f"{action}-{uuid.uuid4().hex[:12]}"


async def _act(services: Services, call_id: str, action: str, context: str, target: str | None,
               send: Callable[[Call, Repeatability], Awaitable[Any]], transferee: str | None = None) -> Any:
    """Record an action as a pending operation, send it, and record a refusal; its event records the result."""

    def declare(call: Call, now: datetime) -> Call:
        if call.ended:
            raise Conflict(f"call {call_id} has ended: it is {call.state}", state=call.state)
        if not call.call_connection_id:
            raise Conflict(f"call {call_id} has no call connection", state=call.state)
        if ops.find(call.operations, context) is not None:
            raise ValidationError(f"operationContext {context!r} is already used by an operation of this call",
                                  field="operationContext")
        operation = Operation(context=context, action=action, status=ops.PENDING, created_at=now, updated_at=now,
                              source="api", target=target, transferee=transferee)
        return replace(call, operations=ops.upsert(call.operations, operation))

    call, commands = await update(services, call_id, declare)
    await run(services, call, commands)
    try:
        result = await send(call, repeat_for(call, context))
    except AcsError as exc:
        if exc.in_progress:  # a 409 to a repeat: the original request is still being carried out
            raise
        await settle(services, call_id, context, failed(exc))
        if may_have_ended(exc):
            ended, state = await ended_at_acs(services, call)
            if ended:
                await reconcile_as_ended(services, call_id, f"{action} was refused with {exc.status}/"
                                         f"{exc.sub_code or exc.code}: the call is over at ACS")
                raise Conflict(f"call {call_id} has ended at ACS ({exc.status}/{exc.sub_code or exc.code}); it is "
                               "now recorded as disconnected", state="disconnected") from exc
            if state is not None:
                raise Conflict(f"call {call_id} is {state} at ACS: {action} is not possible now ({exc.status}/"
                               f"{exc.sub_code or exc.code})", state=state) from exc
        raise
    await settle(services, call_id, context, accepted(result if action == ops.ADD_PARTICIPANT else None))
    return result


async def create_call(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """CreateCall to one target (1:1) or several (group); recorded as outbound and connecting."""
    request = rq.parse_create_call(body, services.settings.acs.caller_id)
    call_key, now = new_call_key(), services.clock()
    context = _context(request.operation_context, ops.CREATE_CALL)
    to = ", ".join(t.display for t in request.targets)
    connection = await services.control.create_call(request.targets, url(services, call_key), request.caller_id,
                                                    request.display_name, context,
                                                    Repeatability.for_key(call_key, now))
    call = await record_new(services, _outbound(connection, call_key, context, ops.CREATE_CALL, to, now,
                                                 from_=request.caller_id))
    log.info("created call connection=%s targets=%d", connection.call_connection_id, len(request.targets))
    return {"callConnectionId": call.id, "operationContext": context, "state": call.state}


async def connect_call(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """ConnectCall to an existing server call, group call or room."""
    request = rq.parse_connect(body)
    call_key, now = new_call_key(), services.clock()
    context = _context(request.operation_context, ops.CONNECT)
    connection = await services.control.connect(request.locator_kind, request.locator_id, url(services, call_key),
                                                context, Repeatability.for_key(call_key, now))
    call = await record_new(services, _outbound(connection, call_key, context, ops.CONNECT,
                                                 f"{request.locator_kind}:{request.locator_id}", now))
    return {"callConnectionId": call.id, "operationContext": context, "state": call.state}


def _outbound(connection: Connection, call_key: str, context: str, action: str, target: str, now: datetime,
              from_: str | None = None) -> Call:
    operation = Operation(context=context, action=action, status=ops.PENDING, created_at=now, updated_at=now,
                          target=target)
    return Call(id=connection.call_connection_id, call_key=call_key, direction=OUTBOUND, state=CONNECTING,
                started_at=now, updated_at=now, call_connection_id=connection.call_connection_id,
                server_call_id=connection.server_call_id, correlation_id=connection.correlation_id, from_=from_,
                to=target if action == ops.CREATE_CALL else None, operations=(operation,))


async def transfer(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    request = rq.parse_transfer(body)
    context = _context(request.operation_context, ops.TRANSFER)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.transfer(call.call_connection_id, request.target, request.transferee,
                                        request.custom.sip_with_uui(request.user_to_user), request.custom.voip or None,
                                        context, repeat)

    await _act(services, call_id, ops.TRANSFER, context, request.target.display, send,
               transferee=request.transferee.display if request.transferee else None)
    return {"operationContext": context}


async def add_participant(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    request = rq.parse_add_participant(body, services.settings.acs.caller_id)
    context = _context(request.operation_context, ops.ADD_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> str:
        return await services.control.add_participant(
            call.call_connection_id, request.target, request.caller_id, request.display_name,
            request.invitation_timeout, request.custom.sip or None, request.custom.voip or None, context, repeat)

    invitation_id = await _act(services, call_id, ops.ADD_PARTICIPANT, context, request.target.display, send)
    return {"invitationId": invitation_id, "operationContext": context}


async def cancel_invitation(services: Services, call_id: str, invitation_id: str, context: str | None
                            ) -> dict[str, Any]:
    if not invitation_id or len(invitation_id) > 128:
        raise ValidationError("invitationId is missing or too long", field="invitationId")
    context = _context(context, ops.CANCEL_ADD_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.cancel_add_participant(call.call_connection_id, invitation_id, context, repeat)

    await _act(services, call_id, ops.CANCEL_ADD_PARTICIPANT, context, invitation_id, send)
    return {"operationContext": context}


async def remove_participant(services: Services, call_id: str, raw_id: str, context: str | None) -> dict[str, Any]:
    target = parse_target(raw_id, "rawId")
    context = _context(context, ops.REMOVE_PARTICIPANT)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.remove_participant(call.call_connection_id, target, context, repeat)

    await _act(services, call_id, ops.REMOVE_PARTICIPANT, context, target.display, send)
    return {"operationContext": context}


async def hang_up(services: Services, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    for_everyone = rq.parse_hang_up(body)
    context = _context(None, ops.HANG_UP)

    async def send(call: Call, repeat: Repeatability) -> None:
        await services.control.hang_up(call.call_connection_id, for_everyone, repeat)

    await _act(services, call_id, ops.HANG_UP, context, "everyone" if for_everyone else "app", send)
    return {"operationContext": context, "forEveryone": for_everyone}


