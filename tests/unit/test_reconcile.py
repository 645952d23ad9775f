"""Reconciling a stale call: what ACS's GetCall answer means, and what the app records when the call is over."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.domain import call as c
from shared.domain import operations as ops
from shared.domain.operations import Operation

NOW = datetime(2026, 11, 24, 14, 3, 14, tzinfo=timezone.utc)
# CallConnectionStateModel in the Call Automation REST spec (communicationservicescallautomation.json).
ACS_STATES = ["unknown", "connecting", "connected", "transferring", "transferAccepted", "disconnecting",
              "disconnected"]


def test_a_call_acs_no_longer_knows_is_over():
    assert c.acs_says_ended(None) is True


def test_a_call_acs_reports_disconnected_is_over():
    # GetCall on an ended call can answer 200 with callConnectionState "disconnected" rather than 404.
    assert c.acs_says_ended("disconnected") is True


@pytest.mark.parametrize("state", [s for s in ACS_STATES if s != "disconnected"])
def test_every_other_state_acs_documents_is_alive(state):
    assert c.acs_says_ended(state) is False


def test_reconciling_records_disconnected_with_a_reconciled_entry_and_closes_hang_ups():
    hang_up = Operation(context="h", action=ops.HANG_UP, status=ops.PENDING, created_at=NOW, updated_at=NOW)
    call = c.Call(id="401f3500-62bd-46a9-8c37-fa6c2b1f7f43", call_key="i" + "0" * 31, direction=c.INBOUND,
                  state=c.CONNECTED, started_at=NOW, updated_at=NOW, call_connection_id="401f3500",
                  event_count=3, operations=(hang_up,))
    later = NOW + timedelta(minutes=11)
    ended, record = c.reconcile_ended(call, later, "ACS no longer knows the call")
    assert ended.state == c.DISCONNECTED and ended.ended and ended.ended_at == later
    assert record.type == "Reconciled" and record.seq == 4 and ended.event_count == 4
    assert record.detail == {"reason": "ACS no longer knows the call"}
    assert ended.operations[0].status == ops.SUCCEEDED
