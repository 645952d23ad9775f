"""Logs never hold access keys, secrets, callback URL tokens, JWTs, incomingCallContext or full phone numbers.

A representative set of flows (answer, reject, redirect with phone numbers; callbacks with phone participants;
forged and malformed callbacks; control actions on phone targets; an ACS refusal; a refused IncomingCall) runs with
every log record captured. At the app's default levels (INFO for the app, WARNING for azure.* and the rest) nothing
sensitive may appear anywhere, and the numbers appear masked. At DEBUG for every logger, the app's own loggers must
still be clean; what the SDKs print there is reported (and held to the same rule: an operator may turn DEBUG on).
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

import pytest

from devtools.azurite import ACCOUNT_KEY
from shared.bootstrap import get_services
from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, cloud_event, participants_updated

pytestmark = pytest.mark.e2e
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


async def run_flows(stack, n: int) -> dict[str, Any]:
    """Place calls and drive callbacks and actions; returns the phone numbers and context values used."""
    numbers = [f"+1425555{n}{k:03d}" for k in range(8)]
    caller, premium, redirected, participant, added, caller_id, transfer_to, hidden = numbers
    premium = "+1900555" + premium[-4:]
    numbers[1] = premium
    events = []
    call, key, event = await answered_call(stack, caller)
    events.append(event)
    events.append(await stack.ring(from_=premium, to="+18005550100"))                       # reject
    events.append(await stack.ring(from_=redirected, to="+18005550177"))                    # redirect to a number
    refused = stack.emulator.incoming_call(from_=hidden, to="+18005550100")
    refused["data"]["to"] = {"kind": "phoneNumber"}                                         # refused: no rawId
    assert await stack.emulator.deliver_incoming_call(refused) == 200
    events.append(refused)
    url = stack.callback_url(key)
    assert (await stack.post(url, [participants_updated(call, 77, [f"4:{caller}", f"4:{participant}"])]))[0] == 200
    assert (await stack.post(url, [cloud_event("PlayCompleted", call)]))[0] == 200
    assert (await stack.post(stack.callback_url(key, token="A" * 43), [cloud_event("PlayCompleted", call)]))[0] == 401
    assert (await stack.post(url, [cloud_event("PlayCompleted", call)],
                             headers={"Authorization": "Bearer " + stack.emulator.mint_callback_token(aud="x")}))[0] == 401
    assert (await stack.post(url, data=b"[{broken"))[0] == 400
    api = f"{stack.url}/api/calls/{call['id']}"
    assert (await stack.post(f"{api}/participants", {"target": added, "callerId": caller_id}))[0] == 202
    stack.emulator.inject_fault("CallConnection_AddParticipant", status=403, count=1, code="Forbidden")
    assert (await stack.post(f"{api}/participants", {"target": hidden, "callerId": caller_id}))[0] == 403
    async with stack.http.delete(f"{api}/participants/4%3A{participant.replace('+', '%2B')}") as response:
        assert response.status in (202, 404, 409)
    assert (await stack.post(f"{api}/transfer", {"target": transfer_to, "transferee": caller}))[0] == 202
    await stack.emulator.idle()
    fig.bump(fig.CALLS, 4)
    fig.bump(fig.FORGED, 2)
    return {"numbers": numbers + ["+18005550100", "+18005550177", "+18005550199"],
            "contexts": [e["data"]["incomingCallContext"] for e in events]}


def secrets_of(stack, used: dict[str, Any]) -> dict[str, str]:
    """Every value that must never be logged, by what it is."""
    found = {"ACS access key": stack.emulator.access_key,
             "ACS access key (decoded)": base64.b64decode(stack.emulator.access_key).decode(),
             "CALLBACK_SECRET": stack.secret, "Table Storage account key": ACCOUNT_KEY}
    for request in stack.emulator.requests:
        body = request["body"] if isinstance(request["body"], dict) else {}
        for name in ("callbackUri", "operationCallbackUri"):
            if isinstance(body.get(name), str):
                found[f"callback URL token ({body[name][-12:]})"] = body[name].rstrip("/").rsplit("/", 1)[1]
    for i, context in enumerate(used["contexts"]):
        found[f"incomingCallContext {i}"] = context
    for number in used["numbers"]:
        found[f"phone number {number[-4:]}"] = number
        found[f"phone number digits {number[-4:]}"] = number.lstrip("+")
    return found


def leaks(records: list[logging.LogRecord], sensitive: dict[str, str]) -> dict[str, set[str]]:
    """What leaked, by logger."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    found: dict[str, set[str]] = {}
    for record in records:
        text = formatter.format(record)
        for what, value in sensitive.items():
            if value and value in text:
                found.setdefault(record.name, set()).add(what)
        if JWT.search(text):
            found.setdefault(record.name, set()).add("a JWT")
    return found


async def test_logs_at_the_default_levels_hold_no_secret_and_no_full_number(stack, caplog):
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.WARNING, logger="azure")
    caplog.set_level(logging.INFO, logger="callsteer")  # last: the capture handler takes the lowest level
    used = await run_flows(stack, 7)
    sensitive = secrets_of(stack, used)
    assert len(caplog.records) > 10
    found = leaks(caplog.records, sensitive)
    assert not found, found
    # The numbers are there, masked: the log still tells calls apart.
    assert "+***7000" in caplog.text and "+***7002" in caplog.text


async def test_the_apps_logs_at_debug_hold_no_secret_and_no_full_number(stack, caplog):
    await get_services()  # built first: the app clamps azure-core's request logger when it builds its clients
    caplog.set_level(logging.DEBUG)
    for name in ("callsteer", "azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    used = await run_flows(stack, 8)
    found = leaks(caplog.records, secrets_of(stack, used))
    app = {name: what for name, what in found.items() if name.split(".")[0] in ("callsteer", "shared", "function_app")}
    assert not app, app
    sdk = {name: sorted(what) for name, what in found.items() if name not in app}
    by_logger: dict[str, int] = {}
    for record in caplog.records:
        by_logger[record.name] = by_logger.get(record.name, 0) + 1
    print(f"records at DEBUG by logger: {dict(sorted(by_logger.items()))}")
    print(f"at DEBUG, outside the app's loggers: {sdk or 'nothing sensitive'}")
    assert not sdk, sdk
