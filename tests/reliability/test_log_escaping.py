"""Everything from the wire is escaped before it is logged: no event id, event type, error code or message from
ACS, Event Grid or an HTTP client can write a line of its own, a terminal escape or a bidirectional override into
the app's log. Driven through the registered functions, the emulator and Azurite."""

from __future__ import annotations

import logging

import pytest

from shared.logsafe import escape
from tests.reliability import figures as fig

pytestmark = pytest.mark.e2e
FORGED = "\n2026-12-02 06:00:00 INFO callsteer: FORGED LINE\x1b[2J\u202e"
UNSAFE = ("\n", "\r", "\x1b", "\u202e", "\u2028")


def unsafe_records(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records if record.name.startswith("callsteer")
            and any(char in record.getMessage() for char in UNSAFE)]


async def test_wire_text_in_every_logged_path_is_written_as_one_escaped_line(stack, caplog):
    caplog.set_level(logging.INFO, logger="callsteer")
    # An Event Grid event of another type: logged as ignored, with its id and type.
    other = stack.emulator.incoming_call(from_="+14255550941", to="+18005550100")
    other.update(id="other" + FORGED, eventType="Microsoft.Communication.Other" + FORGED)
    assert await stack.emulator.deliver_incoming_call(other) == 200
    # An IncomingCall refused at the edge: logged with its id and the reason.
    refused = stack.emulator.incoming_call(from_="+14255550942", to="+18005550100")
    refused["id"] = "refused" + FORGED
    assert await stack.emulator.deliver_incoming_call(refused) == 200
    # ACS refusing the answer with an error code and message of its own: logged as the call's failure.
    stack.emulator.inject_fault("AnswerCall", status=403, code="Forbidden" + FORGED)
    await stack.ring(from_="+14255550943", to="+18005550100")
    # A callback body whose event id would forge a line: refused before it is read further.
    status, _ = await stack.post(f"{stack.url}/api/callbacks/{'a' * 32}/{'b' * 43}", [{"id": "cb" + FORGED}])
    assert status == 401
    fig.bump(fig.BAD_INPUTS, 4)

    assert not unsafe_records(caplog.records), unsafe_records(caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callsteer"))
    assert "other\\n2026-12-02 06:00:00 INFO callsteer: FORGED LINE\\x1b[2J\\u202e" in text
    assert "refused\\n2026" in text
    assert "Forbidden\\n2026" in text


@pytest.mark.parametrize("raw, logged", [
    ("a\nb", "a\\nb"), ("a\r\nb", "a\\r\\nb"), ("\x1b[31mred", "\\x1b[31mred"), ("rtl\u202eevil", "rtl\\u202eevil"),
    ("sep\u2028x", "sep\\u2028x"), ("lone\ud800", "lone\\ud800"), ("back\\slash", "back\\\\slash"), ("plain id-1", "plain id-1"),
])
def test_escape_writes_each_unsafe_character_visibly(raw, logged):
    assert escape(raw) == logged


def test_escape_bounds_the_length_and_says_how_much_was_cut():
    assert escape("x" * 600) == "x" * 500 + "...(+100 characters)"


def test_every_string_argument_of_the_apps_loggers_is_escaped(caplog):
    import shared  # noqa: F401  (installs the filter)

    caplog.set_level(logging.INFO, logger="callsteer")
    logging.getLogger("callsteer").info("event %s code=%s n=%d", "e\nFORGED", ValueError("bad\rline"), 7)
    assert caplog.records[-1].getMessage() == "event e\\nFORGED code=bad\\rline n=7"
