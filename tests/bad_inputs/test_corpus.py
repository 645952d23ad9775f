"""The bad-input corpus (tests/bad_inputs/corpus/*.json, described in its README) through the real stack.

Each case is sent as the internet, Event Grid or an operator would send it; it must get its clear 4xx (a problem
document naming the field or condition) or its logged reason, and nothing may be persisted: no row of the calls
table added or changed (or, for events the app keeps by design, only the call's event log grown), and no request
sent to ACS.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from yarl import URL

from shared.domain.callback_tokens import callback_token
from tests.reliability import figures as fig
from tests.reliability.helpers import answered_call, diff, rows, snapshot

pytestmark = pytest.mark.e2e
CORPUS = Path(__file__).resolve().parent / "corpus"
_REPEAT = re.compile(r"\{repeat:(.):(\d+)\}")


def load_cases() -> list[Any]:
    cases, names = [], set()
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            assert case["name"] not in names, f"duplicate case name {case['name']}"
            names.add(case["name"])
            marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if case.get("xfail") else []
            cases.append(pytest.param(case, id=case["name"], marks=marks))
    return cases


CASES = load_cases()


def fill(value: Any, names: dict[str, str]) -> Any:
    """Placeholders filled in: {call}, {callKey}, {token}, {otherCall}, and {repeat:c:N} (c written N times)."""
    text = json.dumps(value) if not isinstance(value, str) else value
    text = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text)
    for name, replacement in names.items():
        text = text.replace("{" + name + "}", replacement)
    return text if isinstance(value, str) else json.loads(text)


def expand(value: Any) -> Any:
    """`{"$repeat": N, "item": X}` anywhere in a body becomes a list of N copies of X, `{i}` in them the index."""
    if isinstance(value, dict):
        if set(value) == {"$repeat", "item"}:
            text = json.dumps(value["item"])
            return [expand(json.loads(text.replace("{i}", str(i)))) for i in range(value["$repeat"])]
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def body_of(case: dict[str, Any], names: dict[str, str]) -> bytes | None:
    if "raw_hex" in case:
        return bytes.fromhex(case["raw_hex"])
    if "raw" in case:
        return fill(case["raw"], names).encode()
    if "repeat" in case:
        spec = case["repeat"]
        return (spec["wrap"][0] + spec["chunk"] * spec["times"] + spec["wrap"][1]).encode()
    if "body" in case:
        return json.dumps(expand(fill(case["body"], names))).encode()
    return None


@pytest_asyncio.fixture(scope="module")
async def target(stack) -> dict[str, str]:
    """A connected call (and a second one) whose state the corpus must not change."""
    await stack.activate()  # set up before the per-test own_stack_settings: another folder's stack may be in force
    call, key, _ = await answered_call(stack, "+14255550901")
    other, _, _ = await answered_call(stack, "+14255550902")
    fig.bump(fig.CALLS, 2)
    return {"call": call["id"], "callKey": key, "token": callback_token(stack.secret.encode(), key),
            "otherCall": other["id"]}


async def send_http(stack, case: dict[str, Any], names: dict[str, str]) -> tuple[int, str, Any]:
    headers = {"Content-Type": "application/json", **case.get("headers", {})}
    if "/api/callbacks/" in case["path"] and "Authorization" not in headers:
        headers["Authorization"] = f"Bearer {stack.emulator.mint_callback_token()}"
    url = URL(stack.url + fill(case["path"], names), encoded=True)
    async with stack.http.request(case["method"], url, data=body_of(case, names), headers=headers) as response:
        text = await response.text()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return response.status, response.headers.get("Content-Type", ""), parsed


async def deliver_event(stack, case: dict[str, Any], names: dict[str, str]) -> int:
    """An IncomingCall as Event Grid delivers it, with the case's changes to its data or envelope."""
    event = stack.emulator.incoming_call(from_="+14255550903", to="+18005550100")
    event = copy.deepcopy(event)
    if "data_raw" in case:
        event["data"] = case["data_raw"]
    for key, value in fill(case.get("data", {}), names).items():
        if value is None:
            event["data"].pop(key, None)
        else:
            event["data"][key] = value
    event.update(fill(case.get("event", {}), names))
    payload = body_of(case, names) if "raw" in case else json.dumps([event]).encode()
    headers = {"Content-Type": "application/json", "aeg-event-type": "Notification",
               "aeg-subscription-name": "CORPUS", "aeg-delivery-count": "0"}
    async with stack.http.post(f"{stack.url}/runtime/webhooks/eventgrid?functionName=incoming_call", data=payload,
                               headers=headers) as response:
        await response.read()
        return response.status


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_input_gets_a_clear_answer_and_persists_nothing(stack, target, settings_changed, caplog, case):
    caplog.set_level(logging.INFO)
    expect = case["expect"]
    fig.bump(fig.BAD_INPUTS)
    before = await snapshot(stack)
    sent_before = len(stack.emulator.requests)
    _, call_before = await stack.get(f"/api/calls/{target['call']}")

    if case["kind"] == "http":
        status, content_type, problem = await send_http(stack, case, target)
        assert status == expect["status"], problem
        if 400 <= status < 500:
            assert content_type.startswith("application/problem+json"), content_type
            assert problem["status"] == status and problem["detail"]
            if "field" in expect:
                assert problem.get("field") == expect["field"], problem
            if "detail" in expect:
                assert expect["detail"] in problem["detail"], problem
    elif case["kind"] == "eventgrid":
        assert await deliver_event(stack, case, target) == expect["status"]
    elif case["kind"] == "rules":
        rules = case["rules"] if isinstance(case["rules"], str) else json.dumps(case["rules"])
        settings_changed(ROUTING_RULES=rules)
        assert await deliver_event(stack, {}, target) == expect["status"]
        # The control API says the same, naming the setting's problem.
        status, _, problem = await send_http(stack, {"method": "GET", "path": "/api/calls?limit=1"}, target)
        assert status == 500 and problem["title"] == "App misconfigured" and "ROUTING_RULES" in problem["detail"]
    else:
        raise AssertionError(f"unknown kind {case['kind']}")

    if "logged" in expect:
        assert expect["logged"] in caplog.text, caplog.text[-2000:]

    changed = diff(before, await snapshot(stack))
    assert len(stack.emulator.requests) == sent_before, "nothing may be sent to ACS"
    if expect.get("changes", "nothing") == "nothing":
        assert not any(changed.values()), changed
    else:  # event-logged: the event joins the call's log; the call's state does not move
        # The event joins the log in the call's main row (in the call's own partition; older entries may move to
        # page rows of that partition).
        [partition] = [r["PartitionKey"] for r in await rows(stack, "RowKey eq 'call' and id eq @i", i=target["call"])]
        assert not changed["removed"] and changed["changed"] == [(partition, "call")], changed
        assert all(pk == partition for pk, _ in changed["added"]), changed
        _, call_after = await stack.get(f"/api/calls/{target['call']}")
        assert call_after["state"] == call_before["state"]
        assert call_after["participants"] == call_before["participants"]
        assert len(call_after["events"]) == len(call_before["events"]) + 1
