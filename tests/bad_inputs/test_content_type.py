"""JSON means JSON, in the app itself: each registered route that takes a body refuses any other media type (415)
before reading it, whatever host serves it, and sends nothing to ACS; JSON with parameters or a +json type works."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from devtools.host import discover

pytestmark = pytest.mark.e2e
BODY_ROUTES = {"create_call", "connect_call", "transfer_call", "add_participant", "hang_up", "simulate_rules"}


def registered(name: str):
    return next(f for f in discover(function_app.app)[0] if f.name == name)


def test_every_post_route_of_the_control_api_is_one_that_checks_the_media_type():
    posts = {f.name for f in discover(function_app.app)[0] if "POST" in f.methods and f.name != "callbacks"}
    assert posts == BODY_ROUTES


@pytest.mark.parametrize("name", sorted(BODY_ROUTES))
@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"}, {"Content-Type": "text/plain; a=application/json"}])
async def test_a_registered_body_route_invoked_without_json_media_type_answers_415(stack, name, headers):
    sent = len(stack.emulator.requests)
    function = registered(name)
    req = func.HttpRequest(method="POST", url=f"http://localhost/api/{function.route}", headers=headers,
                           route_params={"callId": "some-call"}, body=json.dumps({"targets": ["+14255550199"]}).encode())
    response = await function.call(**{function.arg_name: req})
    assert response.status_code == 415, response.get_body()
    assert json.loads(response.get_body())["field"] == "Content-Type"
    assert len(stack.emulator.requests) == sent


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                          "application/merge-patch+json"])
async def test_json_media_types_are_read(stack, content_type):
    function = registered("create_call")
    req = func.HttpRequest(method="POST", url="http://localhost/api/calls", headers={"Content-Type": content_type},
                           body=b'{"targets": []}')
    response = await function.call(**{function.arg_name: req})
    assert response.status_code == 400 and json.loads(response.get_body())["field"] == "targets"
