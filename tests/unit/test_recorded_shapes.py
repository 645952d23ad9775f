"""Shapes the live service sends (../shared/acs-recordings/): call-state events without operationContext or
resultInformation, long base64 serverCallIds."""

import json
from datetime import datetime, timezone

import pytest

from shared.domain import operations as ops
from shared.domain.events import parse_callback_body
from shared.domain.operations import Operation
from tests.payloads import callback

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc)


def pending(action, context):
    return Operation(context=context, action=action, status=ops.PENDING, created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize("action", [ops.ANSWER, ops.CREATE_CALL, ops.CONNECT])
def test_call_connected_without_operation_context_closes_the_calls_own_connection(action):
    closed = ops.close_by_event((pending(action, "answer:support"),), "CallConnected", None, None, NOW)
    assert closed[0].status == ops.SUCCEEDED


def test_call_connected_without_operation_context_closes_nothing_else():
    others = (pending(ops.ADD_PARTICIPANT, "invite-1"), pending(ops.TRANSFER, "transfer-1"))
    assert ops.close_by_event(others, "CallConnected", None, None, NOW) == others


def test_a_failure_without_operation_context_fails_the_answer():
    closed = ops.close_by_event((pending(ops.ANSWER, "answer:support"),), "AnswerFailed", None, None, NOW)
    assert closed[0].status == ops.FAILED


def test_call_connected_naming_another_context_leaves_the_answer_pending():
    answer = (pending(ops.ANSWER, "answer:support"),)
    assert ops.close_by_event(answer, "CallConnected", "someone-else", None, NOW) == answer


@pytest.mark.parametrize("length", [168, 196, 512, 2000])
def test_server_call_ids_of_any_recorded_or_longer_length_are_accepted(length):
    body = callback("CallConnected", serverCallId="aHR0cHM6" + "A" * (length - 9) + "=", operationContext=None,
                    resultInformation=None)
    [event] = parse_callback_body(json.dumps(body).encode())
    assert len(event.server_call_id) == length and event.operation_context is None and event.result is None
