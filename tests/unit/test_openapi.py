"""The OpenAPI document stays true: every registered HTTP route is documented, and nothing else is."""

import json
import re
from pathlib import Path

import function_app
from devtools.host import discover

DOC = json.loads((Path(__file__).resolve().parents[2] / "shared" / "openapi.json").read_text())


def registered_routes():
    http, _ = discover(function_app.app)
    routes = set()
    for function in http:
        path = "/" + re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", function.route)
        for method in function.methods:
            routes.add((path, method.lower()))
    return routes


def documented_routes():
    return {(path, method) for path, item in DOC["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")}


def test_every_registered_route_is_documented_and_every_documented_route_exists():
    assert registered_routes() == documented_routes()


def test_every_path_parameter_is_declared():
    for path, item in DOC["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}"


def test_every_reference_resolves():
    text = json.dumps(DOC)
    for ref in set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in DOC["components"][ref[0]], ref


def test_request_schemas_list_exactly_the_fields_the_api_accepts():
    from shared.domain import requests as rq

    schemas = DOC["components"]["schemas"]
    samples = {
        "CreateCallRequest": lambda b: rq.parse_create_call(b, "+18005550100"),
        "TransferRequest": rq.parse_transfer,
        "AddParticipantRequest": lambda b: rq.parse_add_participant(b, "+18005550100"),
        "HangUpRequest": rq.parse_hang_up,
    }
    for name, parse in samples.items():
        for field in schemas[name]["properties"]:
            try:
                parse({field: None})
            except Exception as exc:  # a missing required field is fine; an unknown one is not
                assert "is not a field of this request" not in str(exc), f"{name}.{field}"


def test_the_documented_states_and_actions_are_the_apps_own():
    from shared.domain.call import STATES
    from shared.domain.operations import ACTIONS

    schemas = DOC["components"]["schemas"]
    assert schemas["State"]["enum"] == list(STATES)
    assert schemas["Operation"]["properties"]["action"]["enum"] == list(ACTIONS)
