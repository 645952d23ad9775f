"""Evaluate the small part of Bicep that infra/ uses to compute values from parameters (for tests).

Enough to follow a parameter of main.bicep into a module and through its variables: literals, arrays and
objects, parameters and variables, `[for x in xs: ...]`, `c ? a : b`, `==`, `!=`, `!`, `&&`, `||`,
`empty()`, `split()`, `replace()`, `toLower()`, and `${name}` interpolation. Anything else raises
Unsupported, so a test cannot pass on a value this evaluator did not really compute.
"""

from __future__ import annotations

import re
from typing import Any

from pycep.models import BicepElement


class Unsupported(Exception):
    pass


class Env:
    def __init__(self, parsed: dict[str, Any], args: dict[str, Any] | None = None,
                 scope: dict[str, Any] | None = None) -> None:
        self.parsed = parsed
        self.args = args or {}
        self.scope = scope or {}

    def with_scope(self, name: str, value: Any) -> "Env":
        return Env(self.parsed, self.args, {**self.scope, name: value})

    def lookup(self, name: str) -> Any:
        if name in self.scope:
            return self.scope[name]
        params = self.parsed.get("parameters", {})
        if name in params:
            if name in self.args:
                return self.args[name]
            if "default" not in params[name]:
                raise Unsupported(f"parameter {name} has no value and no default")
            return evaluate(params[name]["default"], self)
        variables = self.parsed.get("variables", {})
        if name in variables:
            return evaluate(variables[name]["value"], self)
        raise Unsupported(f"{name} is not a parameter, variable or loop variable")


def evaluate(expr: Any, env: Env) -> Any:
    if isinstance(expr, BicepElement):
        return env.lookup(str(expr))
    if expr is None or isinstance(expr, (bool, int)):
        return expr
    if isinstance(expr, str):
        return _interpolate(expr, env)
    if isinstance(expr, list):
        return [evaluate(item, env) for item in expr]
    if isinstance(expr, dict):
        if "loop_type" in expr:
            loop = expr["loop_type"]
            if loop.get("type") != "array" or expr.get("condition") is not None:
                raise Unsupported(f"loop {loop}")
            items = env.lookup(loop["detail"]["array_name"])
            name = loop["detail"]["item_name"]
            return [evaluate(expr["config"], env.with_scope(name, item)) for item in items]
        if set(expr) == {"operator"}:
            return _operator(expr["operator"], env)
        if set(expr) == {"function"}:
            return _function(expr["function"], env)
        return {(k[1:-1] if k.startswith("'") else k): evaluate(v, env) for k, v in expr.items()}
    raise Unsupported(repr(expr))


def _operator(operator: dict[str, Any], env: Env) -> Any:
    kind, ops = operator["type"], operator["operands"]
    if kind == "conditional":
        return evaluate(ops["true_value"] if evaluate(ops["condition"], env) else ops["false_value"], env)
    if kind == "equals":
        return evaluate(ops["operand_1"], env) == evaluate(ops["operand_2"], env)
    if kind == "not_equals":
        return evaluate(ops["operand_1"], env) != evaluate(ops["operand_2"], env)
    if kind == "not":
        return not evaluate(ops["bool_value"], env)
    if kind == "and":
        return all(evaluate(v, env) for v in ops.values())
    if kind == "or":
        return any(evaluate(v, env) for v in ops.values())
    raise Unsupported(f"operator {kind}")


def _function(function: dict[str, Any], env: Env) -> Any:
    kind, params = function["type"], function.get("parameters", {})
    if kind == "empty":
        return len(evaluate(params["item_to_test"], env)) == 0
    if kind == "split":
        return evaluate(params["input_string"], env).split(evaluate(params["delimiter"], env))
    if kind == "replace":
        return evaluate(params["original_string"], env).replace(
            evaluate(params["old_string"], env), evaluate(params["new_string"], env))
    if kind == "to_lower":
        return evaluate(params["string_to_change"], env).lower()
    raise Unsupported(f"function {kind}")


def _interpolate(text: str, env: Env) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise Unsupported(f"interpolation ${{{name}}}")
        return str(env.lookup(name))

    return re.sub(r"\$\{([^}]*)\}", value, text)


def event_grid_matches(filters: list[dict[str, Any]], event: dict[str, Any]) -> bool:
    """Event Grid's advanced filters on one event (Event Grid schema): all filters must hold; string
    comparisons ignore case; a key the event lacks matches no string operator."""
    for item in filters:
        actual = event
        for part in item["key"].split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
        values = [str(v).lower() for v in item["values"]]
        operator = item["operatorType"]
        if not isinstance(actual, str):
            return False
        if operator == "StringIn":
            ok = actual.lower() in values
        elif operator == "StringBeginsWith":
            ok = any(actual.lower().startswith(v) for v in values)
        else:
            raise Unsupported(f"advanced filter {operator}")
        if not ok:
            return False
    return True
