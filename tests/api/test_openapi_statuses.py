"""Every status a route can answer is in the OpenAPI document, and every status the document lists can be answered.

What a route can answer is read from the code, not from a list kept beside it: starting at the function that
function_app.py registers, the test follows every call into the app's own code (shared/, the adapters behind
`services.*`), collects each error class it raises and each status it answers directly (`json_response(...,
status=)`, `func.HttpResponse(status_code=)`, `problem(N, ...)`), and maps each error class to a status with the
app's own `shared.http.error_response`. An ACS refusal (AcsError) is answered with ACS's own 4xx status (documented
as the range `4XX`) or, for 5xx after retries, 502.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import json
import pkgutil
import textwrap
import types
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest

import function_app
import shared
import shared.adapters
from devtools.host import discover
from shared.errors import AcsError, CallsteerError
from shared.http import error_response

OPENAPI = json.loads((Path(shared.__file__).parent / "openapi.json").read_text(encoding="utf-8"))
PROJECT_MODULES = ("shared", "function_app")


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module == "function_app" or module.split(".")[0] in PROJECT_MODULES


@lru_cache(maxsize=1)
def _adapter_methods() -> dict[str, list[Callable[..., Any]]]:
    """Methods of the adapter classes by name: `services.control.x(...)` may run any of them."""
    methods: dict[str, list[Callable[..., Any]]] = {}
    for info in pkgutil.iter_modules(shared.adapters.__path__, "shared.adapters."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for name, member in vars(cls).items():
                if inspect.isfunction(member):
                    methods.setdefault(name, []).append(member)
    return methods


def _resolve(node: ast.AST, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return scope.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        if isinstance(base, (types.ModuleType, type)):
            return getattr(base, node.attr, None)
    return None


def _int(node: ast.AST | None) -> int | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, int) else None


def _error_class(exc: ast.AST, scope: dict[str, Any]) -> type | None:
    """The class a `raise` raises: `raise X(...)`, `raise X`, or `raise make_error(...)` typed `-> X`."""
    target = exc.func if isinstance(exc, ast.Call) else exc
    raised = _resolve(target, scope)
    if callable(raised) and not isinstance(raised, type) and _ours(raised):
        raised = typing.get_type_hints(raised).get("return")
    return raised if isinstance(raised, type) and issubclass(raised, CallsteerError) else None


def _answers_with_error_response(handler: ast.ExceptHandler, scope: dict[str, Any]) -> bool:
    return any(isinstance(n, ast.Call) and _resolve(n.func, scope) is error_response for n in ast.walk(handler))


def _bare_raise(handler: ast.ExceptHandler) -> bool:
    return any(isinstance(n, ast.Raise) and n.exc is None for n in ast.walk(handler))


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass
class _Context:
    scope: dict[str, Any]
    owner: type | None
    local: dict[str, ast.AST]  # the function's nested functions, by name: visited where they are called
    visiting: set[str] = field(default_factory=set)  # nested functions being visited (a recursive one adds nothing)


def _handler_classes(handler: ast.ExceptHandler, scope: dict[str, Any]) -> tuple[type, ...]:
    types_ = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return tuple(t for t in (_resolve(t, scope) for t in types_ if t is not None)
                 if isinstance(t, type)) or (BaseException,)


class Answers:
    """What one registered function can answer: direct statuses, and the error classes that reach an
    `error_response(...)` (an error caught on the way, and not raised again, does not; one that escapes every
    handler is the host's 500)."""

    def __init__(self) -> None:
        self.statuses: set[int] = set()
        self.answered: set[type] = set()
        self._raised: dict[Any, set[type]] = {}

    def _parse(self, fn: Any, owner: type | None) -> tuple[ast.AST, _Context] | None:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return None
        if owner is None and "." in fn.__qualname__ and "<locals>" not in fn.__qualname__:
            owner = getattr(inspect.getmodule(fn), fn.__qualname__.split(".")[0], None)
        scope = dict(fn.__globals__)
        root = tree.body[0]
        local: dict[str, ast.AST] = {}
        for node in ast.walk(root):
            if isinstance(node, (ast.Import, ast.ImportFrom)):  # imports inside the function
                for alias in node.names:
                    try:
                        module = importlib.import_module(
                            f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name)
                    except ImportError:
                        module = getattr(importlib.import_module(node.module), alias.name)  # type: ignore[arg-type]
                    scope[alias.asname or alias.name] = module
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not root:
                local[node.name] = node
        return root, _Context(scope, owner, local)

    def errors_of(self, fn: Any, owner: type | None = None) -> set[type]:
        """The error classes a call of fn can raise to its caller."""
        fn = inspect.unwrap(fn)
        if fn is error_response or not _ours(fn):
            return set()
        if fn in self._raised:
            return self._raised[fn]
        self._raised[fn] = set()  # a recursive call adds nothing new
        parsed = self._parse(fn, owner)
        if parsed is None:
            return set()
        root, ctx = parsed
        found = self._body(root, ctx)
        self._raised[fn] = found
        return found

    def _catching(self, fn: Any) -> tuple[tuple[type, ...], tuple[type, ...]]:
        """What fn catches around what it calls (a function handed to it runs there): (caught, answered)."""
        parsed = self._parse(inspect.unwrap(fn), None) if _ours(fn) else None
        caught: tuple[type, ...] = ()
        answering: tuple[type, ...] = ()
        for node in ast.walk(parsed[0]) if parsed else []:
            if isinstance(node, ast.ExceptHandler) and not _bare_raise(node):
                classes = _handler_classes(node, parsed[1].scope)  # type: ignore[index]
                caught += classes
                if _answers_with_error_response(node, parsed[1].scope):  # type: ignore[index]
                    answering += classes
        return caught, answering

    def _body(self, node: ast.AST, ctx: _Context) -> set[type]:
        found: set[type] = set()
        for child in ast.iter_child_nodes(node):
            found |= self._visit(child, ctx)
        return found

    def _visit(self, node: ast.AST, ctx: _Context) -> set[type]:
        if isinstance(node, _FUNCTIONS):
            return set()  # a nested function raises where it is called, not where it is defined
        if isinstance(node, ast.Try):
            caught: tuple[type, ...] = ()
            answering: tuple[type, ...] = ()
            for handler in node.handlers:
                if not _bare_raise(handler):
                    classes = _handler_classes(handler, ctx.scope)
                    caught += classes
                    if _answers_with_error_response(handler, ctx.scope):
                        answering += classes
            found: set[type] = set()
            for child in node.body:
                raised = self._visit(child, ctx)
                self.answered |= {e for e in raised if issubclass(e, answering)}
                found |= {e for e in raised if not issubclass(e, caught)}
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                found |= self._visit(child, ctx)
            return found
        found = set()
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = _error_class(node.exc, ctx.scope)
            if raised is not None:
                found.add(raised)
        elif isinstance(node, ast.Call):
            found |= self._call(node, ctx)
        return found | self._body(node, ctx)

    def _call(self, node: ast.Call, ctx: _Context) -> set[type]:
        if isinstance(node.func, ast.Name) and node.func.id in ctx.local:
            if node.func.id in ctx.visiting:
                return set()
            ctx.visiting.add(node.func.id)
            try:
                return self._body(ctx.local[node.func.id], ctx)
            finally:
                ctx.visiting.discard(node.func.id)
        callee = _resolve(node.func, ctx.scope)
        name = getattr(callee, "__name__", None)
        keywords = {k.arg: k.value for k in node.keywords}
        # The response helpers: the status is the call site's (their own bodies pass a variable on).
        if name == "json_response" and _ours(callee):
            self.statuses.add(_int(keywords.get("status")) or 200)
            return set()
        if name == "problem" and _ours(callee):
            if node.args and _int(node.args[0]):
                self.statuses.add(_int(node.args[0]))  # type: ignore[arg-type]
            return set()
        if name == "HttpResponse" and ("status_code" not in keywords or _int(keywords["status_code"])):
            self.statuses.add(_int(keywords.get("status_code")) or 200)
        found: set[type] = set()
        handed = [a for a in [*node.args, *keywords.values()] if isinstance(a, ast.Name) and a.id in ctx.local]
        if handed and callable(callee) and not isinstance(callee, type) and _ours(callee):  # respond(work), update(..., declare), _act(..., send)
            caught, answering = self._catching(callee)
            for arg in handed:
                raised = self._body(ctx.local[arg.id], ctx)
                self.answered |= {e for e in raised if issubclass(e, answering)}
                found |= {e for e in raised if not issubclass(e, caught)}
        if isinstance(callee, type):
            return found | (self.errors_of(callee.__init__, callee) if _ours(callee) else set())
        if callable(callee):
            return found | self.errors_of(callee)
        if isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Name) and base.id == "self" and ctx.owner is not None:
                method = getattr(ctx.owner, node.func.attr, None)
                return found | (self.errors_of(method, ctx.owner) if callable(method) else set())
            # services.control.x(...), services.store.x(...): whichever adapter implements x
            for method in _adapter_methods().get(node.func.attr, []):
                found |= self.errors_of(method)
        return found


def _status_keys(error: type[CallsteerError]) -> set[str]:
    """The statuses (as OpenAPI response keys) error_response gives an error of this class."""
    if issubclass(error, AcsError):
        return {"4XX", str(error_response(error("refused", 503)).status_code)}
    for args in (("x",), ("x", None), ("x", None, None)):
        try:
            instance = error(*args)
            break
        except TypeError:
            continue
    else:  # pragma: no cover - a new error class with another constructor
        pytest.fail(f"{error.__name__}: teach this test how to build one")
    return {str(error_response(instance).status_code)}


def _routes() -> list[tuple[str, str, Any]]:
    http_functions, _ = discover(function_app.app)
    return [(method, f"/{f.route}", f.call) for f in http_functions for method in f.methods]


def _answers(call: Any) -> set[str]:
    answers = Answers()
    escaped = answers.errors_of(call)
    keys = {str(s) for s in answers.statuses}
    for error in answers.answered:
        keys |= _status_keys(error)
    if escaped:  # an exception out of the function: the Functions host answers 500
        keys.add("500")
    return keys


def _documented(method: str, path: str) -> set[str]:
    operation = OPENAPI["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {path} is not in the OpenAPI document"
    return set(operation["responses"])


# What the walk finds but a client cannot meet, each with the reason. The entry must stay true: it is checked.
NOT_FOR_CLIENTS = {
    ("POST", "/calls", "404"): "NotFound from core.update() when a follow-up's outcome is recorded on the call this "
                               "request has just written (only a call deleted in between could raise it)",
    ("POST", "/calls:connect", "404"): "as for POST /calls",
    ("POST", "/callbacks/{callKey}/{token}", "404"): "as for POST /calls: the follow-ups of the call just written",
}


@pytest.mark.parametrize("method,path,call", _routes(), ids=[f"{m} {p}" for m, p, _ in _routes()])
def test_every_status_the_route_can_answer_is_documented_and_nothing_else(method: str, path: str, call: Any) -> None:
    can = _answers(call)
    ignored = {status for (m, p, status) in NOT_FOR_CLIENTS if (m, p) == (method, path)}
    assert ignored <= can, f"{method} {path}: NOT_FOR_CLIENTS lists {sorted(ignored - can)}, which it no longer finds"
    can -= ignored
    documented = _documented(method, path)
    assert can - documented == set(), f"{method} {path} can answer {sorted(can - documented)}, not documented"
    assert documented - can == set(), f"{method} {path} documents {sorted(documented - can)}, which it cannot answer"


def test_the_analysis_sees_what_a_route_obviously_answers() -> None:
    """The walk reaches the handlers, the request parsers and the adapters: a check on the check."""
    create = next(call for method, path, call in _routes() if (method, path) == ("POST", "/calls"))
    answers = Answers()
    answers.errors_of(create)
    names = {e.__name__ for e in answers.answered}
    assert {"ValidationError", "PayloadTooLarge", "AcsError", "StoreUnavailable", "ConfigError"} <= names, names
    assert 201 in answers.statuses
