"""The emulated service: what each Call Automation operation does to the model and which events follow."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine

from .callbacks import CallbackDispatcher
from .errors import AcsError, bad_request, call_not_found, not_established, not_found
from .events import (ADD_CANCELLED, CANCEL_TOO_LATE, CANCEL_UNKNOWN_INVITATION, CONNECTED, ENDED_BY_APP,
                     ENDED_BY_REMOTE, ENDED_BY_REMOTE_PSTN, ENDED_BY_TRANSFER, LOCATOR_NOT_FOUND, PARTICIPANT_ADDED,
                     PARTICIPANT_NOT_IN_CALL, PARTICIPANT_REMOVED, RING_FAILURES, TERMINATED_BY_APP, recorded_result,
                     TRANSFER_ACCEPTED, ResultInformation, cloud_event, incoming_call_event)
from .held import HeldTargets
from .identifiers import COMMUNICATION_USER, Identifier
from .model import (CallConnection, CallState, IncomingCall, IncomingCallState, Invitation, InvitationState, Outcome,
                    Participant, TargetScript)
from .validation import Body

# How long a target rings before giving up when no invitation timeout is given (seconds, before time_scale).
DEFAULT_RING_TIMEOUT_S = 60.0
MAX_INVITATION_TIMEOUT_S = 180
REJECT_REASONS = ("none", "busy", "forbidden")
# How the service answers for a call connection that has ended: "disconnected" (it still knows the call: GetCall is
# 200 with callConnectionState "disconnected", actions 400/8501) or "not-found" (it has forgotten it: 404/8522).
ENDED_CALL_ANSWERS = ("disconnected", "not-found")

Effect = Callable[[], Coroutine[Any, Any, None]]
Deliver = Callable[[dict[str, Any], dict[str, Any]], Coroutine[Any, Any, None]]
# Stands in for the identity of an app that placed a call without a source or caller id.
APP_IDENTITY = Identifier("8:acs:00000000-0000-4000-8000-00000000ac50_00000000-0000-0000-0000-0000000000a0")


@dataclass(frozen=True)
class Reply:
    """An operation's REST answer, plus the work to start once the answer has been sent."""

    status: int
    body: dict[str, Any] | None = None
    effects: tuple[Effect, ...] = field(default_factory=tuple)


def _caller_id_required(verb: str) -> AcsError:
    # "When adding a phone number, it's mandatory to provide a caller ID" (actions-for-call-control.md, Add
    # participant); the troubleshooting page says the same for CreateCall and Transfer to phone numbers.
    return bad_request(f"The field 'sourceCallerIdNumber' is required to {verb} a phone number.")


def _new_server_call_id() -> str:
    # As recorded (every file in ../shared/acs-recordings/): standard base64, padding kept, of a conversation URL,
    # 168 to 196 characters long.
    conversation = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    url = (f"https://api.flightproxy.skype.com/api/v2/cp/conv-usea-01-prod-aks.conv.skype.com/conv/{conversation}"
           f"?i=10-60-{secrets.randbelow(256)}-{secrets.randbelow(256)}&e={secrets.randbelow(10**18):018d}")
    return base64.b64encode(url.encode()).decode()


class CallEngine:
    """Holds every call and carries out the operations, timers and event sequences."""

    def __init__(self, dispatcher: CallbackDispatcher, time_scale: float, resource_topic: str) -> None:
        self._dispatcher = dispatcher
        self._time_scale = time_scale
        self._resource_topic = resource_topic
        self.incoming: dict[str, IncomingCall] = {}
        self.calls: dict[str, CallConnection] = {}
        self.scripts: dict[str, TargetScript] = {}
        self.locators: dict[str, list[Identifier]] = {}
        self.ended_calls = "disconnected"
        self.held: HeldTargets | None = None  # set by the Emulator: rings of targets scripted `ringing`
        # Phone numbers of this resource (raw ids): an invitation to one rings the app again as an IncomingCall.
        self.owned_numbers: set[str] = set()
        # Posts an IncomingCall to the app's Event Grid endpoint (set by the Emulator); None: not delivered.
        self.deliver: Deliver | None = None
        # The IncomingCall events raised for the app's own invitations, with their delivery status.
        self.raised: list[dict[str, Any]] = []
        # Media operations (play, recognize, hold) live in media.py; recordings are wired by the Emulator.
        from .media import Media

        self.media = Media(self)
        self.recordings: Any = None
        self.on_call_end: Callable[[CallConnection], None] | None = None

    @property
    def time_scale(self) -> float:
        return self._time_scale

    # ---- test control -------------------------------------------------------------------------

    def new_incoming_call(self, caller: Identifier, callee: Identifier, caller_display_name: str | None,
                          sip_headers: dict[str, str] | None, voip_headers: dict[str, str] | None) -> dict[str, Any]:
        """Register a ringing call and return its Event Grid IncomingCall event."""
        incoming = IncomingCall(
            context="emu." + secrets.token_urlsafe(48),
            server_call_id=_new_server_call_id(),
            correlation_id=str(uuid.uuid4()),
            caller=caller,
            callee=callee,
            caller_display_name=caller_display_name,
        )
        self.incoming[incoming.context] = incoming
        return incoming_call_event(
            caller=caller, callee=callee, server_call_id=incoming.server_call_id,
            correlation_id=incoming.correlation_id, incoming_call_context=incoming.context,
            caller_display_name=caller_display_name, resource_topic=self._resource_topic,
            sip_headers=sip_headers, voip_headers=voip_headers,
        )

    # ---- the app's own legs -------------------------------------------------------------------

    def rings_the_app(self, target: Identifier) -> bool:
        """Whether inviting this target raises an IncomingCall: "If the target is a Communication Services user or a
        phone number owned by your resource, it generates a new IncomingCall event" (actions-for-call-control.md)."""
        return target.kind == COMMUNICATION_USER or target.raw_id in self.owned_numbers

    def _own_leg(self, cause: str, caller: Identifier, target: Identifier, server_call_id: str, correlation_id: str,
                 custom: dict[str, Any] | None) -> tuple[IncomingCall | None, tuple[Effect, ...]]:
        """The IncomingCall the service raises for an invitation of the app (same correlation id, the invitation's
        custom calling context), and the effect that delivers it to the app's Event Grid endpoint."""
        if not self.rings_the_app(target):
            return None, ()
        custom = custom or {}
        incoming = IncomingCall(context="emu." + secrets.token_urlsafe(48), server_call_id=server_call_id,
                                correlation_id=correlation_id, caller=caller, callee=target, caller_display_name=None,
                                raised_by=cause, fate=asyncio.get_running_loop().create_future())
        self.incoming[incoming.context] = incoming
        event = incoming_call_event(
            caller=caller, callee=target, server_call_id=server_call_id, correlation_id=correlation_id,
            incoming_call_context=incoming.context, caller_display_name=None, resource_topic=self._resource_topic,
            sip_headers=custom.get("sipHeaders"), voip_headers=custom.get("voipHeaders"))
        record: dict[str, Any] = {"cause": cause, "to": target.raw_id, "correlationId": correlation_id,
                                  "event": event, "status": None}
        self.raised.append(record)

        async def deliver() -> None:
            if self.deliver is not None:
                await self.deliver(event, record)

        return incoming, (deliver,)

    async def _leg_outcome(self, target: Identifier, timeout_s: float, leg: IncomingCall | None
                           ) -> tuple[Identifier, Outcome]:
        """How an invited target answers: an owned number as the app handles its IncomingCall (answer, reject,
        redirect on), anyone else as scripted."""
        if leg is None or target.raw_id not in self.owned_numbers or leg.fate is None:
            return await self._ring(target, timeout_s)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(leg.fate), timeout_s * self._time_scale)
        except asyncio.TimeoutError:
            outcome = Outcome.NO_ANSWER
        return target, outcome

    def script_target(self, target: Identifier, script: TargetScript) -> None:
        """Set what a dialled target does when it rings."""
        self.scripts[target.raw_id] = script

    def add_locator(self, locator_id: str, participants: list[Identifier]) -> None:
        """Make a groupCallId or roomId known to Connect, with the participants already in it."""
        self.locators[locator_id] = list(participants)

    def remote_hang_up(self, call_connection_id: str, raw_id: str | None) -> Reply:
        """A participant (default: the original caller) leaves the call."""
        call = self._active_call(call_connection_id)
        if raw_id is None:
            leaving = call.source if call.origin == "answer" and call.source else None
            if leaving is None or call.participant(leaving.raw_id) is None:
                if not call.participants:
                    raise bad_request("The call has no remote participant to hang up.")
                leaving = call.participants[0].identifier
        else:
            leaving = Identifier.parse(raw_id)
        if call.participant(leaving.raw_id) is None:
            raise not_found(f"Participant {leaving.raw_id} is not in the call.")
        call.participants = [p for p in call.participants if p.identifier.raw_id != leaving.raw_id]
        if call.participants:
            return Reply(204, effects=(lambda: self._participants_updated(call),))
        self._end(call)
        result = ENDED_BY_REMOTE_PSTN if leaving.phone_number else ENDED_BY_REMOTE
        return Reply(204, effects=(lambda: self._disconnected(call, result),))

    # ---- pre-connection operations ------------------------------------------------------------

    def answer_call(self, payload: Any, api_version: str) -> Reply:
        """AnswerCall: 200 with the connection, then CallConnected and ParticipantsUpdated."""
        body = Body(payload, "AnswerCallRequest")
        context = body.required_str("incomingCallContext")
        callback_uri = body.required_url("callbackUri")
        operation_context = body.optional_str("operationContext")
        body.optional_user("answeredBy")
        incoming = self._waiting_incoming(context)
        call = CallConnection(
            id=str(uuid.uuid4()), server_call_id=incoming.server_call_id, correlation_id=incoming.correlation_id,
            callback_uri=callback_uri, origin="answer", source=incoming.caller, targets=[incoming.callee],
            participants=[Participant(incoming.caller)], operation_context=operation_context,
            answered_for=incoming.callee if incoming.callee.phone_number else None, api_version=api_version,
        )
        incoming.state = IncomingCallState.ANSWERED
        incoming.settle(Outcome.ANSWER)
        incoming.call_connection_id = call.id
        self.calls[call.id] = call
        return Reply(200, call.properties(), (lambda: self._connected(call),))

    def reject_call(self, payload: Any) -> Reply:
        """RejectCall: 204; the caller hears the reason, the app gets no callback."""
        body = Body(payload, "RejectCallRequest")
        context = body.required_str("incomingCallContext")
        reason = body.optional_enum("callRejectReason", REJECT_REASONS)
        incoming = self._waiting_incoming(context)
        incoming.state = IncomingCallState.REJECTED
        incoming.settle(Outcome.BUSY if reason == "busy" else Outcome.DECLINE)
        return Reply(204)

    def redirect_call(self, payload: Any) -> Reply:
        """RedirectCall: 204; the call rings elsewhere, the app gets no callback."""
        body = Body(payload, "RedirectCallRequest")
        context = body.required_str("incomingCallContext")
        target = body.required_identifier("target")
        incoming = self._waiting_incoming(context)
        incoming.state = IncomingCallState.REDIRECTED
        # The call rings on at the target: at one of the app's numbers (or an ACS user) as a new IncomingCall with the
        # same correlation id; whatever becomes of it becomes of this ringing call.
        leg, effects = self._own_leg("RedirectCall", incoming.caller, target, incoming.server_call_id,
                                     incoming.correlation_id, None)

        async def ring_on() -> None:
            _, outcome = await self._leg_outcome(target, DEFAULT_RING_TIMEOUT_S, leg)
            incoming.settle(outcome)

        return Reply(204, effects=effects + (ring_on,))

    def create_call(self, payload: Any, api_version: str) -> Reply:
        """CreateCall: 201, then each target rings; the first answer connects, all failing is CreateCallFailed."""
        body = Body(payload, "CreateCallRequest")
        targets = body.required_identifiers("targets")
        callback_uri = body.required_url("callbackUri")
        source_caller_id = body.optional_phone("sourceCallerIdNumber")
        source = body.optional_user("source")
        source_display_name = body.optional_str("sourceDisplayName")
        operation_context = body.optional_str("operationContext")
        if source_caller_id is None and any(t.phone_number for t in targets):
            raise _caller_id_required("call")
        call = CallConnection(
            id=str(uuid.uuid4()), server_call_id=_new_server_call_id(), correlation_id=str(uuid.uuid4()),
            callback_uri=callback_uri, origin="create", source=source, targets=targets,
            operation_context=operation_context, source_caller_id=source_caller_id,
            source_display_name=source_display_name, api_version=api_version,
        )
        self.calls[call.id] = call
        caller = source_caller_id or source or APP_IDENTITY
        legs: dict[str, IncomingCall | None] = {}
        effects: tuple[Effect, ...] = ()
        for target in targets:
            legs[target.raw_id], delivery = self._own_leg("CreateCall", caller, target, call.server_call_id,
                                                          call.correlation_id, None)
            effects += delivery
        return Reply(201, call.properties(), effects + (lambda: self._dial_out(call, legs),))

    def connect(self, payload: Any, api_version: str) -> Reply:
        """Connect: 200, then CallConnected and ParticipantsUpdated, or ConnectFailed for an unknown locator."""
        body = Body(payload, "ConnectRequest")
        locator = body.required_object("callLocator")
        callback_uri = body.required_url("callbackUri")
        operation_context = body.optional_str("operationContext")
        ids = [(key, value) for key in ("serverCallId", "groupCallId", "roomId")
               if isinstance(value := locator.get(key), str) and value]
        if len(ids) != 1:
            raise bad_request("The field 'callLocator' must carry exactly one of serverCallId, groupCallId, roomId.")
        kind, locator_id = ids[0]
        participants = self._locator_participants(kind, locator_id)
        call = CallConnection(
            id=str(uuid.uuid4()),
            server_call_id=locator_id if kind == "serverCallId" else _new_server_call_id(),
            correlation_id=str(uuid.uuid4()), callback_uri=callback_uri, origin="connect",
            operation_context=operation_context, api_version=api_version,
        )
        self.calls[call.id] = call
        return Reply(200, call.properties(), (lambda: self._join(call, participants),))

    # ---- mid-call operations ------------------------------------------------------------------

    def get_call(self, call_connection_id: str) -> Reply:
        """GetCall: 200 with CallConnectionProperties (an ended call: "disconnected", or 404/8522 once forgotten)."""
        call = self.calls.get(call_connection_id)
        if call is None or (call.state == CallState.DISCONNECTED and self.ended_calls == "not-found"):
            raise call_not_found(call_connection_id)
        return Reply(200, call.properties())

    def hang_up(self, call_connection_id: str) -> Reply:
        """HangupCall (DELETE): 204, the app leaves; CallDisconnected follows."""
        call = self._active_call(call_connection_id)
        self._end(call)
        return Reply(204, effects=(lambda: self._disconnected(call, ENDED_BY_APP),))

    def terminate(self, call_connection_id: str) -> Reply:
        """TerminateCall: 204, the call ends for everyone; CallDisconnected follows."""
        call = self._active_call(call_connection_id)
        self._end(call)
        call.participants = []
        return Reply(204, effects=(lambda: self._disconnected(call, TERMINATED_BY_APP),))

    def get_participants(self, call_connection_id: str) -> Reply:
        """GetParticipants: 200 with every participant."""
        call = self._active_call(call_connection_id)
        return Reply(200, {"value": [p.to_model() for p in call.participants]})

    def get_participant(self, call_connection_id: str, raw_id: str) -> Reply:
        """GetParticipant: 200 with one participant, 404 if not in the call."""
        participant = self._active_call(call_connection_id).participant(raw_id)
        if participant is None:
            raise not_found(f"Participant {raw_id} is not in the call.")
        return Reply(200, participant.to_model())

    def transfer(self, call_connection_id: str, payload: Any) -> Reply:
        """TransferToParticipant: 202; CallTransferAccepted (then CallDisconnected in a 1:1) or CallTransferFailed."""
        call = self._active_call(call_connection_id)
        body = Body(payload, "TransferToParticipantRequest")
        target = body.required_identifier("targetParticipant")
        transferee = body.optional_identifier("transferee")
        operation_context = body.optional_str("operationContext")
        callback_url = body.optional_url("operationCallbackUri") or call.callback_uri
        source_caller_id = body.optional_phone("sourceCallerIdNumber")
        custom = body.optional_object("customCallingContext")
        if target.phone_number and source_caller_id is None:
            raise _caller_id_required("transfer to")
        if call.state != CallState.CONNECTED:
            raise bad_request(f"The call cannot be transferred while it is {call.state.value}.")
        if transferee is None and len(call.participants) != 1:
            raise bad_request("The field 'transferee' is required when the call has more than one participant.")
        if transferee is not None and call.participant(transferee.raw_id) is None:
            raise bad_request(f"The transferee {transferee.raw_id} is not a participant of the call.")
        one_to_one = transferee is None
        transferred = transferee or call.participants[0].identifier
        call.state = CallState.TRANSFERRING
        leg, effects = self._own_leg("TransferToParticipant", source_caller_id or transferred, target,
                                     call.server_call_id, call.correlation_id, custom)
        return Reply(202, {"operationContext": operation_context}, effects + (
            lambda: self._transfer(call, target, transferred, one_to_one, operation_context, callback_url, leg),))

    def add_participant(self, call_connection_id: str, payload: Any) -> Reply:
        """AddParticipant: 202 with an invitationId; AddParticipantSucceeded + ParticipantsUpdated, or AddParticipantFailed."""
        call = self._active_call(call_connection_id)
        body = Body(payload, "AddParticipantRequest")
        target = body.required_identifier("participantToAdd")
        timeout_s = body.optional_int("invitationTimeoutInSeconds", 0, MAX_INVITATION_TIMEOUT_S)
        operation_context = body.optional_str("operationContext")
        callback_url = body.optional_url("operationCallbackUri") or call.callback_uri
        source_caller_id = body.optional_phone("sourceCallerIdNumber")
        body.optional_str("sourceDisplayName")
        custom = body.optional_object("customCallingContext")
        if target.phone_number and source_caller_id is None:
            raise _caller_id_required("add")
        if call.participant(target.raw_id) is not None:
            raise bad_request(f"{target.raw_id} is already a participant of the call.")
        invitation = Invitation(id=str(uuid.uuid4()), target=target, operation_context=operation_context,
                                callback_url=callback_url)
        call.invitations[invitation.id] = invitation
        ring_s = float(timeout_s) if timeout_s is not None else DEFAULT_RING_TIMEOUT_S
        response = {
            "participant": Participant(target).to_model(),
            "operationContext": operation_context,
            "invitationId": invitation.id,
        }
        caller = source_caller_id or call.source or (call.participants[0].identifier if call.participants else APP_IDENTITY)
        leg, effects = self._own_leg("AddParticipant", caller, target, call.server_call_id, call.correlation_id, custom)
        return Reply(202, response, effects + (lambda: self._invite(call, invitation, ring_s, leg),))

    def cancel_add_participant(self, call_connection_id: str, payload: Any) -> Reply:
        """CancelAddParticipant: 202; CancelAddParticipantSucceeded, or Failed if the invitation already completed."""
        call = self._active_call(call_connection_id)
        body = Body(payload, "CancelAddParticipantRequest")
        invitation_id = body.required_str("invitationId")
        operation_context = body.optional_str("operationContext")
        callback_url = body.optional_url("operationCallbackUri") or call.callback_uri
        invitation = call.invitations.get(invitation_id)
        # Decide now, not when the event goes out, so the invitation cannot complete in between.
        if invitation is None:
            name, result = "CancelAddParticipantFailed", CANCEL_UNKNOWN_INVITATION
        elif invitation.state == InvitationState.PENDING:
            invitation.state = InvitationState.CANCELLED
            if invitation.task is not None:
                invitation.task.cancel()
            name, result = "CancelAddParticipantSucceeded", ADD_CANCELLED
        else:
            name, result = "CancelAddParticipantFailed", CANCEL_TOO_LATE

        async def report() -> None:
            self._emit(call, name, result, url=callback_url, operationContext=operation_context,
                       invitationId=invitation_id)

        return Reply(202, {"invitationId": invitation_id, "operationContext": operation_context}, (report,))

    def remove_participant(self, call_connection_id: str, payload: Any) -> Reply:
        """RemoveParticipant: 202; RemoveParticipantSucceeded + ParticipantsUpdated, or RemoveParticipantFailed."""
        call = self._active_call(call_connection_id)
        body = Body(payload, "RemoveParticipantRequest")
        target = body.required_identifier("participantToRemove")
        operation_context = body.optional_str("operationContext")
        callback_url = body.optional_url("operationCallbackUri") or call.callback_uri
        present = call.participant(target.raw_id) is not None
        if present:
            call.participants = [p for p in call.participants if p.identifier.raw_id != target.raw_id]
            if not call.participants:
                self._end(call)

        async def report() -> None:
            if not present:
                self._emit(call, "RemoveParticipantFailed", PARTICIPANT_NOT_IN_CALL, url=callback_url,
                           operationContext=operation_context, participant=target.to_model())
                return
            self._emit(call, "RemoveParticipantSucceeded", PARTICIPANT_REMOVED, url=callback_url,
                       operationContext=operation_context, participant=target.to_model())
            await self._participants_updated(call)
            if call.state == CallState.DISCONNECTED:
                await self._disconnected(call, ENDED_BY_REMOTE)

        return Reply(202, {"operationContext": operation_context}, (report,))

    # ---- sequences run after the REST answer --------------------------------------------------

    async def _connected(self, call: CallConnection) -> None:
        if not call.is_active:
            return
        call.state = CallState.CONNECTED
        self._emit(call, "CallConnected", recorded_result(call.api_version, CONNECTED))
        await self._participants_updated(call)

    async def _participants_updated(self, call: CallConnection) -> None:
        self._emit(call, "ParticipantsUpdated", recorded_result(call.api_version, CONNECTED),
                   sequenceNumber=call.next_sequence_number(), participants=[p.to_model() for p in call.participants])

    async def _disconnected(self, call: CallConnection, result: ResultInformation) -> None:
        # As recorded: no operationContext on CallConnected/CallDisconnected (see events.recorded_result).
        self._emit(call, "CallDisconnected", recorded_result(call.api_version, result))

    async def _dial_out(self, call: CallConnection, legs: dict[str, IncomingCall | None]) -> None:
        rings = [self._leg_outcome(target, DEFAULT_RING_TIMEOUT_S, legs.get(target.raw_id)) for target in call.targets]
        last_failure = Outcome.NO_ANSWER
        for next_done in asyncio.as_completed(rings):
            target, outcome = await next_done
            if not call.is_active:
                continue
            if outcome != Outcome.ANSWER:
                last_failure = outcome
                continue
            call.participants.append(Participant(target))
            if call.state == CallState.CONNECTING:
                call.state = CallState.CONNECTED
                self._emit(call, "CallConnected", recorded_result(call.api_version, CONNECTED))
            await self._participants_updated(call)
        if call.state == CallState.CONNECTING:
            call.state = CallState.DISCONNECTED
            self._emit(call, "CreateCallFailed", RING_FAILURES[last_failure], operationContext=call.operation_context)

    async def _join(self, call: CallConnection, participants: list[Identifier] | None) -> None:
        if not call.is_active:
            return
        if participants is None:
            call.state = CallState.DISCONNECTED
            self._emit(call, "ConnectFailed", LOCATOR_NOT_FOUND, operationContext=call.operation_context)
            return
        call.participants = [Participant(p) for p in participants]
        await self._connected(call)

    async def _transfer(self, call: CallConnection, target: Identifier, transferee: Identifier, one_to_one: bool,
                        operation_context: str | None, callback_url: str, leg: IncomingCall | None = None) -> None:
        _, outcome = await self._leg_outcome(target, DEFAULT_RING_TIMEOUT_S, leg)
        if not call.is_active:
            return
        if outcome != Outcome.ANSWER:
            call.state = CallState.CONNECTED
            self._emit(call, "CallTransferFailed", RING_FAILURES[outcome], url=callback_url,
                       operationContext=operation_context)
            return
        self._emit(call, "CallTransferAccepted", TRANSFER_ACCEPTED, url=callback_url,
                   operationContext=operation_context, transferTarget=target.to_model(),
                   transferee=transferee.to_model())
        if one_to_one:
            self._end(call)
            await self._disconnected(call, ENDED_BY_TRANSFER)
            return
        call.participants = [Participant(target) if p.identifier == transferee else p for p in call.participants]
        call.state = CallState.CONNECTED
        await self._participants_updated(call)

    async def _invite(self, call: CallConnection, invitation: Invitation, ring_s: float,
                      leg: IncomingCall | None = None) -> None:
        if invitation.state != InvitationState.PENDING:
            return
        invitation.task = asyncio.current_task()
        _, outcome = await self._leg_outcome(invitation.target, ring_s, leg)
        invitation.task = None
        if invitation.state != InvitationState.PENDING or not call.is_active:
            return
        participant = invitation.target.to_model()
        if outcome != Outcome.ANSWER:
            invitation.state = InvitationState.FAILED
            self._emit(call, "AddParticipantFailed", RING_FAILURES[outcome], url=invitation.callback_url,
                       operationContext=invitation.operation_context, participant=participant)
            return
        invitation.state = InvitationState.SUCCEEDED
        call.participants.append(Participant(invitation.target))
        self._emit(call, "AddParticipantSucceeded", PARTICIPANT_ADDED, url=invitation.callback_url,
                   operationContext=invitation.operation_context, participant=participant)
        await self._participants_updated(call)

    async def _ring(self, target: Identifier, timeout_s: float) -> tuple[Identifier, Outcome]:
        """Let a target ring per its script; no answer within timeout_s is NO_ANSWER."""
        script = self.scripts.get(target.raw_id, TargetScript())
        if script.outcome == Outcome.RINGING and self.held is not None:
            return target, await self.held.ring(target.raw_id)
        delay_s = script.delay_ms / 1000
        if script.outcome == Outcome.NO_ANSWER or delay_s >= timeout_s:
            await self._sleep(timeout_s)
            return target, Outcome.NO_ANSWER
        await self._sleep(delay_s)
        return target, script.outcome

    # ---- helpers ------------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self._time_scale)

    def _emit(self, call: CallConnection, name: str, result: ResultInformation | None, *, url: str | None = None,
              **data: Any) -> None:
        event = cloud_event(call, name, call.api_version, result, **data)
        self._dispatcher.post(call.id, url or call.callback_uri, event)

    def _end(self, call: CallConnection) -> None:
        call.state = CallState.DISCONNECTED
        if self.on_call_end is not None:
            self.on_call_end(call)
        for invitation in call.invitations.values():
            if invitation.state == InvitationState.PENDING and invitation.task is not None:
                invitation.task.cancel()

    def _waiting_incoming(self, context: str) -> IncomingCall:
        incoming = self.incoming.get(context)
        if incoming is None:
            # An unknown or expired context is a bad request, not a missing resource: it is not in the path.
            raise AcsError(400, "The incomingCallContext is not valid or has expired.", "InvalidIncomingCallContext")
        if incoming.state != IncomingCallState.WAITING:
            # The real service refuses a second answer/reject/redirect of the same call; 400 keeps
            # it out of the SDK's retry policy, the code tells the app it was already handled.
            raise AcsError(400, f"The incoming call was already {incoming.state.value}.", "IncomingCallAlreadyHandled")
        return incoming

    def _active_call(self, call_connection_id: str) -> CallConnection:
        call = self.calls.get(call_connection_id)
        if call is None:
            raise call_not_found(call_connection_id)
        if call.state == CallState.DISCONNECTED:
            # Acting on a call that has ended: 400/8501 while the service still knows it, 404/8522 after.
            if self.ended_calls == "not-found":
                raise call_not_found(call_connection_id)
            raise not_established()
        return call

    def _locator_participants(self, kind: str, locator_id: str) -> list[Identifier] | None:
        if kind != "serverCallId":
            return self.locators.get(locator_id)
        for call in self.calls.values():
            if call.server_call_id == locator_id and call.is_active:
                return [p.identifier for p in call.participants]
        for incoming in self.incoming.values():
            if incoming.server_call_id == locator_id:
                return [incoming.caller]
        return self.locators.get(locator_id)
