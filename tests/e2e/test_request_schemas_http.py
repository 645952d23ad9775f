"""Request schemas both ways through the registered functions: a body the OpenAPI document allows passes the
parser (the request then fails later or succeeds), one with an undocumented field is a 400 naming it."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DOC = json.loads((Path(__file__).resolve().parents[2] / "shared" / "openapi.json").read_text())
# Route (with a call id that does not exist: the body is checked before the call is looked up) -> a valid body.
ROUTES = {
    "/calls": ("CreateCallRequest", {"targets": ["+14255550123"], "callerId": "+18005550100"}),
    "/calls:connect": ("ConnectRequest", {"groupCallId": "4a7d6c2e-0f5b-4e8b-9c6f-1a2b3c4d5e6f"}),
    "/calls/no-such-call/transfer": ("TransferRequest", {"target": "+14255550123"}),
    "/calls/no-such-call/participants": ("AddParticipantRequest", {"target": "+14255550123", "callerId": "+18005550100"}),
    "/calls/no-such-call/hangup": ("HangUpRequest", {"forEveryone": True}),
}


@pytest.mark.parametrize("path", sorted(ROUTES))
async def test_an_undocumented_field_is_a_400_problem_naming_it(stack, path):
    schema, body = ROUTES[path]
    assert "callbackUri" not in DOC["components"]["schemas"][schema]["properties"]
    status, problem = await stack.post(f"{stack.url}/api{path}", {**body, "callbackUri": "https://evil.example"})
    assert status == 400, (path, status, problem)
    assert problem["field"] == "callbackUri" and "callbackUri" in problem["detail"]


@pytest.mark.parametrize("path", sorted(p for p in ROUTES if "no-such-call" in p))
async def test_a_documented_body_passes_the_parser_and_reaches_the_call_lookup(stack, path):
    _, body = ROUTES[path]
    status, problem = await stack.post(f"{stack.url}/api{path}", body)
    assert status == 404, (path, status, problem)
