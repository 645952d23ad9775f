"""Operations: which event closes which action and how, what a call's end does to what is still pending, and
how an operation is recorded (and read back)."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.domain import operations as ops
from shared.domain.events import parse_time
from shared.domain.operations import Operation

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=5)
RESULT = {"code": 200, "subCode": 0, "message": "ok"}


def op(context, action, status=ops.PENDING, **fields):
    return Operation(context=context, action=action, status=status, created_at=T0, updated_at=T0, **fields)


@pytest.mark.parametrize("event,action,status", [
    ("CallConnected", ops.ANSWER, ops.SUCCEEDED),
    ("CallConnected", ops.CREATE_CALL, ops.SUCCEEDED),
    ("CallConnected", ops.CONNECT, ops.SUCCEEDED),
    ("AnswerFailed", ops.ANSWER, ops.FAILED),
    ("CreateCallFailed", ops.CREATE_CALL, ops.FAILED),
    ("ConnectFailed", ops.CONNECT, ops.FAILED),
    ("AddParticipantSucceeded", ops.ADD_PARTICIPANT, ops.SUCCEEDED),
    ("AddParticipantFailed", ops.ADD_PARTICIPANT, ops.FAILED),
    ("CancelAddParticipantSucceeded", ops.CANCEL_ADD_PARTICIPANT, ops.SUCCEEDED),
    ("CancelAddParticipantFailed", ops.CANCEL_ADD_PARTICIPANT, ops.FAILED),
    ("RemoveParticipantSucceeded", ops.REMOVE_PARTICIPANT, ops.SUCCEEDED),
    ("RemoveParticipantFailed", ops.REMOVE_PARTICIPANT, ops.FAILED),
    ("CallTransferAccepted", ops.TRANSFER, ops.SUCCEEDED),
    ("CallTransferFailed", ops.TRANSFER, ops.FAILED),
])
def test_a_result_event_closes_the_pending_operation_with_its_context(event, action, status):
    other = op("other", action)
    [closed, untouched] = ops.close_by_event((op("c", action), other), event, "c", RESULT, T1)
    assert (closed.status, closed.result, closed.updated_at) == (status, RESULT, T1)
    assert untouched == other


@pytest.mark.parametrize("event,action", [
    ("CallConnected", ops.TRANSFER), ("AddParticipantSucceeded", ops.REMOVE_PARTICIPANT),
    ("CallTransferAccepted", ops.ADD_PARTICIPANT), ("AnswerFailed", ops.CREATE_CALL),
    ("ParticipantsUpdated", ops.ADD_PARTICIPANT), ("PlayCompleted", ops.ANSWER),
])
def test_an_event_does_not_close_an_action_it_is_not_the_result_of(event, action):
    pending = op("c", action)
    assert ops.close_by_event((pending,), event, "c", RESULT, T1) == (pending,)


def test_a_final_operation_is_never_changed_again():
    done = op("c", ops.ADD_PARTICIPANT, ops.FAILED, result={"code": 408})
    assert ops.close_by_event((done,), "AddParticipantSucceeded", "c", RESULT, T1) == (done,)
    hang_up = op("h", ops.HANG_UP, ops.FAILED)
    assert ops.close_by_event((hang_up,), "CallDisconnected", None, RESULT, T1) == (hang_up,)


def test_the_call_ending_closes_pending_hang_ups_as_succeeded_and_cancels_pending_invitations():
    pending = (op("h", ops.HANG_UP), op("a", ops.ADD_PARTICIPANT), op("t", ops.TRANSFER),
               op("done", ops.ADD_PARTICIPANT, ops.SUCCEEDED))
    hang_up, invite, transfer, done = ops.close_by_event(pending, "CallDisconnected", None, RESULT, T1)
    assert (hang_up.status, hang_up.result, hang_up.updated_at) == (ops.SUCCEEDED, RESULT, T1)
    assert (invite.status, invite.result, invite.updated_at) == (ops.CANCELLED, {"message": "the call ended"}, T1)
    assert transfer == pending[2] and done == pending[3]


def test_a_successful_cancel_marks_the_invitation_it_names_cancelled():
    pending = (op("a", ops.ADD_PARTICIPANT, invitation_id="inv-1"), op("b", ops.ADD_PARTICIPANT, invitation_id="inv-2"),
               op("cancel", ops.CANCEL_ADD_PARTICIPANT, target="inv-1"))
    a, b, cancel = ops.close_by_event(pending, "CancelAddParticipantSucceeded", "cancel", RESULT, T1, "inv-1")
    assert (a.status, a.result, a.updated_at) == (ops.CANCELLED, RESULT, T1)
    assert b == pending[1] and cancel.status == ops.SUCCEEDED


def test_a_cancel_without_an_invitation_id_or_a_failed_cancel_cancels_nothing():
    pending = (op("a", ops.ADD_PARTICIPANT, invitation_id="inv-1"),)
    assert ops.close_by_event(pending, "CancelAddParticipantSucceeded", "x", RESULT, T1, None) == pending
    assert ops.close_by_event(pending, "CancelAddParticipantFailed", "x", RESULT, T1, "inv-1") == pending


def test_find_and_upsert_by_context():
    first, second = op("a", ops.TRANSFER), op("b", ops.HANG_UP)
    assert ops.find((first, second), "b") is second and ops.find((first,), "zz") is None
    replaced = op("a", ops.TRANSFER, ops.SUCCEEDED)
    assert ops.upsert((first, second), replaced) == (replaced, second)  # replaced in its place


def test_final_means_succeeded_failed_or_cancelled():
    assert [op("c", ops.ANSWER, s).final for s in (ops.PENDING, ops.SUCCEEDED, ops.FAILED, ops.CANCELLED)] == \
        [False, True, True, True]


def test_an_operation_is_recorded_without_empty_fields_and_read_back_whole():
    full = op("c", ops.TRANSFER, ops.FAILED, source="plan", target="+18005550199", invitation_id="inv",
              result={"code": 500}, transferee="8:acs:b", accepted_at=T1)
    recorded = full.to_dict()
    assert recorded == {"operationContext": "c", "action": "transfer", "status": "failed", "source": "plan",
                        "target": "+18005550199", "transferee": "8:acs:b", "invitationId": "inv",
                        "result": {"code": 500}, "createdAt": T0.isoformat(), "updatedAt": T0.isoformat(),
                        "acceptedAt": T1.isoformat()}
    assert Operation.from_dict(recorded, lambda v: parse_time(v, "t")) == full
    bare = op("c", ops.ANSWER)
    assert bare.to_dict() == {"operationContext": "c", "action": "answer", "status": "pending", "source": "api",
                              "createdAt": T0.isoformat(), "updatedAt": T0.isoformat()}
    assert Operation.from_dict({k: v for k, v in bare.to_dict().items() if k != "source"},
                               lambda v: parse_time(v, "t")) == bare
