"""Auth levels as the Functions host reads them: every HTTP function needs a function key, except ACS's
callbacks (authenticated by their JWT and URL token), the OpenAPI document and the console's static assets.

The local host, like Core Tools, does not check keys, so no end-to-end test could see a route turned
anonymous; these read the binding metadata that function_app.py registers, which is what Azure enforces.
"""

import importlib.util
import json
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DOC = json.loads((PROJECT / "shared" / "openapi.json").read_text())
# The console page is static and anonymous (issue 12): its data comes from console/data, behind a function key.
ANONYMOUS_ROUTES = {"callbacks/{callKey}/{token}", "openapi.json", "console", "console/assets/{name}"}
FUNCTION_KEY = [{"functionKey": []}, {"functionKeyQuery": []}]


def registered_bindings() -> list[dict]:
    """The trigger binding of every function, from a fresh load of function_app.py (the app's registry
    indexes only once per FunctionApp, so the test builds its own rather than share the module's)."""
    spec = importlib.util.spec_from_file_location("function_app_for_auth_levels", PROJECT / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bindings = []
    for function in module.app.get_functions():
        binding = dict(function.get_bindings_dict()["bindings"][0])
        binding["function"] = function.get_function_name()
        bindings.append(binding)
    return bindings


def http_bindings() -> list[dict]:
    return [b for b in registered_bindings() if b["type"] == "httpTrigger"]


def test_the_app_registers_the_three_anonymous_routes_and_more():
    routes = {b["route"] for b in http_bindings()}
    assert ANONYMOUS_ROUTES <= routes
    assert len(routes - ANONYMOUS_ROUTES) >= 5


@pytest.mark.parametrize("binding", http_bindings(), ids=lambda b: b["function"])
def test_every_http_function_but_callbacks_openapi_and_assets_needs_a_function_key(binding):
    # The host reads authLevel from the binding; an absent one would mean the host's default, so it must be set.
    level = str(binding.get("authLevel", "<absent>")).upper()
    expected = "ANONYMOUS" if binding["route"] in ANONYMOUS_ROUTES else "FUNCTION"
    assert level == expected, f"{binding['function']} ({binding['route']}) is {level}, must be {expected}"


def test_the_openapi_document_requires_a_function_key_by_default():
    assert DOC["security"] == FUNCTION_KEY
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["functionKey"] == {"type": "apiKey", "in": "header", "name": "x-functions-key"}
    assert schemes["functionKeyQuery"] == {"type": "apiKey", "in": "query", "name": "code"}


def test_the_openapi_document_says_what_each_registered_route_requires():
    levels = {}
    for binding in http_bindings():
        for method in binding["methods"]:
            levels[("/" + binding["route"], str(getattr(method, "value", method)).lower())] = binding["authLevel"]
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            level = str(levels[(path, method)]).upper()
            security = operation.get("security", DOC["security"])
            where = f"{method.upper()} {path}"
            if level == "FUNCTION":
                assert security == FUNCTION_KEY, f"{where} needs a function key but documents {security}"
            else:
                assert not any("functionKey" in s or "functionKeyQuery" in s for s in security), \
                    f"{where} is anonymous but documents a function key"


def test_callbacks_document_the_acs_jwt_and_the_open_routes_document_nothing():
    assert DOC["paths"]["/callbacks/{callKey}/{token}"]["post"]["security"] == [{"acsJwt": []}]
    assert DOC["paths"]["/openapi.json"]["get"]["security"] == []
    assert DOC["paths"]["/console/assets/{name}"]["get"]["security"] == []
