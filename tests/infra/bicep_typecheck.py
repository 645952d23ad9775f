"""Check every resource of infra/**/*.bicep against Azure's official Bicep type definitions.

The definitions are the `types.json` files that Azure/bicep-types-az generates from the public REST API specs
(the same ones the Bicep compiler type-checks against), vendored and trimmed under tests/infra/bicep-types/
(see its README.md and vendor_bicep_types.py). For each resource declaration this checks:

- its `type@apiVersion` exists in those definitions;
- every property it sets exists there (exact case), is not read-only, and has the right shape: objects,
  arrays, strings, integers, booleans, string literal enums and unions, integer and string bounds, required
  properties of the objects it writes, discriminated objects (`endpointType`, `operatorType`, `name` of
  sites/config);
- an `existing` resource only names itself (`name`, `parent`, `scope`);
- every `symbol.properties.x.y` the file reads from a resource exists in that resource's type.

Expressions are followed as far as they can be without deploying: a parameter reference has its declared
type and its `@allowed` values; a variable its value; both branches of `c ? a : b` are checked; functions and
operators whose result type is fixed (`guid()`, `empty()`, `!x`, `a == b`, ...) have that type; anything
else (resource and module outputs, `union()`, index access) is accepted as unknown.

Run on a scratch copy: `python3 tests/infra/bicep_typecheck.py DIR_OR_FILE...` (prints each problem, exits 1
if any). The infra tests run it on infra/ (tests/infra/test_bicep_types.py).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import pycep
from pycep.models import BicepElement

HERE = Path(__file__).resolve().parent
TYPES_DIR = HERE / "bicep-types"

REQUIRED, READ_ONLY = 1, 2
# Keys of a resource declaration that Bicep itself consumes (pycep writes a child resource's implicit
# dependency as `depends_on`).
DECLARATION_KEYS = {"parent", "scope", "dependsOn", "depends_on"}
EXISTING_KEYS = {"name", "parent", "scope"}

# Result kinds of the Bicep functions and operators this file meets (pycep's names); others are unknown.
FUNCTION_KINDS = {
    "guid": "string", "unique_string": "string", "to_lower": "string", "to_upper": "string",
    "subscription_resource_id": "string", "resource_id": "string", "tenant_resource_id": "string",
    "extension_resource_id": "string", "string": "string", "replace": "string", "format": "string",
    "concat": "any", "take": "any", "skip": "any", "first": "any", "last": "any",
    "empty": "bool", "contains": "bool", "starts_with": "bool", "ends_with": "bool", "bool": "bool",
    "int": "int", "length": "int", "min": "int", "max": "int", "index_of": "int",
    "split": "array", "array": "array", "create_array": "array", "range": "array",
    "create_object": "object", "union": "any", "intersection": "any",
}
OPERATOR_KINDS = {
    "not": "bool", "and": "bool", "or": "bool", "equals": "bool", "not_equals": "bool",
    "equals_case_insensitive": "bool", "not_equals_case_insensitive": "bool",
    "greater_than": "bool", "greater_than_or_equals": "bool", "less_than": "bool", "less_than_or_equals": "bool",
    "add": "int", "substract": "int", "subtract": "int", "multiply": "int", "divide": "int", "modulo": "int",
    "minus": "int",
}
PARAM_KINDS = {"string": "string", "int": "int", "bool": "bool", "object": "object", "array": "array"}


@dataclass(frozen=True)
class Problem:
    file: str
    resource: str
    type_name: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}: {self.resource} ({self.type_name}): {where}{self.message}"


class Types:
    """The vendored type files: `Provider/type@version` -> (elements of its file, body reference)."""

    def __init__(self, directory: Path = TYPES_DIR) -> None:
        self.directory = directory
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.resources: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for path in sorted(directory.glob("*.json")):
            elements = json.loads(path.read_text())
            self.files[path.name] = elements
            for element in elements:
                if element.get("$type") == "ResourceType":
                    self.resources.setdefault(element["name"].lower(), []).append((path.name, element["body"]))

    def lookup(self, type_name: str, api_version: str) -> list[tuple[str, dict[str, Any]]]:
        return self.resources.get(f"{type_name}@{api_version}".lower(), [])

    def body(self, type_name: str, api_version: str) -> dict[str, Any]:
        """The body type of a resource type, with `properties` resolved one level (for tests to read)."""
        (file_name, ref), *_ = self.lookup(type_name, api_version)
        elements = self.files[file_name]
        body = elements[int(ref["$ref"][2:])]
        inner = body["properties"]["properties"]["type"]
        return elements[int(inner["$ref"][2:])]

    def versions_of(self, type_name: str) -> list[str]:
        prefix = f"{type_name.lower()}@"
        return sorted(key.split("@", 1)[1] for key in self.resources if key.startswith(prefix))


@dataclass
class Value:
    """What is known about a Bicep expression without deploying: its kind and, where known, its values."""

    kind: str  # string | int | bool | object | array | null | any
    literals: tuple[Any, ...] | None = None  # every value it can take, when that is known
    node: Any = None  # an object or array literal, to check property by property


@dataclass
class FileContext:
    rel: str
    json: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    seen_vars: set[str] = field(default_factory=set)


def _is_identifier(value: Any) -> bool:
    return isinstance(value, BicepElement)


class Checker:
    def __init__(self, types: Types) -> None:
        self.types = types
        self.resources_checked: list[str] = []
        self.parser = pycep.BicepParser()

    # -- the walk --------------------------------------------------------------------------------------

    def check_file(self, path: Path, rel: str | None = None) -> list[Problem]:
        rel = rel or path.name
        parsed = self.parser.parse(file_path=path)
        ctx = FileContext(rel=rel, json=parsed)
        for symbol, resource in parsed.get("resources", {}).items():
            self.resources_checked.append(f"{rel}:{symbol}")
            self._check_resource(ctx, symbol, resource)
        self._check_property_reads(ctx)
        return ctx.problems

    def check_paths(self, paths: Iterable[Path]) -> list[Problem]:
        problems: list[Problem] = []
        for target in paths:
            if target.is_dir():
                for path in sorted(target.rglob("*.bicep")):
                    problems += self.check_file(path, path.relative_to(target).as_posix())
            else:
                problems += self.check_file(target, target.name)
        return problems

    def _check_resource(self, ctx: FileContext, symbol: str, resource: dict[str, Any]) -> None:
        type_name, version = resource["type"], resource["api_version"]
        full = f"{type_name}@{version}"

        def report(path: str, message: str) -> None:
            ctx.problems.append(Problem(ctx.rel, symbol, full, path, message))

        found = self.types.lookup(type_name, version)
        if not found:
            known = self.types.versions_of(type_name)
            hint = f"; versions vendored: {', '.join(known)}" if known else "; no version of this type is vendored"
            report("", f"type@apiVersion not in the official Bicep types{hint} (tests/infra/bicep-types/)")
            return
        body = _unwrap(resource["config"])
        if not isinstance(body, dict):
            report("", f"cannot read the resource body ({type(body).__name__})")
            return
        if resource["existing"]:
            extra = sorted(set(body) - EXISTING_KEYS)
            if extra:
                report("", f"an existing resource sets {extra}; only {sorted(EXISTING_KEYS)} are allowed")
            body = {k: v for k, v in body.items() if k == "name"}
        else:
            body = {k: v for k, v in body.items() if k not in DECLARATION_KEYS}
        # A type may be listed once per scope; the body must fit one of them.
        attempts = []
        for file_name, ref in found:
            errors: list[tuple[str, str]] = []
            self._check_value(ctx, self._value(ctx, body), file_name, ref, "", errors, top=True,
                              existing=resource["existing"])
            if not errors:
                return
            attempts.append(errors)
        for path, message in min(attempts, key=len):
            report(path, message)

    # -- values ----------------------------------------------------------------------------------------

    def _value(self, ctx: FileContext, expr: Any) -> Value:
        if isinstance(expr, bool):
            return Value("bool", (expr,))
        if isinstance(expr, int):
            return Value("int", (expr,))
        if expr is None:
            return Value("null", (None,))
        if _is_identifier(expr):
            return self._identifier(ctx, str(expr))
        if isinstance(expr, str):
            if "${" in expr:
                return Value("string")
            return Value("string", (expr,))
        if isinstance(expr, list):
            return Value("array", node=expr)
        if isinstance(expr, dict):
            if set(expr) == {"operator"}:
                return self._operator(ctx, expr["operator"])
            if set(expr) == {"function"}:
                kind = FUNCTION_KINDS.get(expr["function"].get("type"), "any")
                return Value(kind)
            return Value("object", node=expr)
        return Value("any")

    def _identifier(self, ctx: FileContext, name: str) -> Value:
        params = ctx.json.get("parameters", {})
        variables = ctx.json.get("variables", {})
        if name in params:
            param = params[name]
            kind = PARAM_KINDS.get(str(param.get("type")), "any")
            allowed = next((d.get("argument") for d in param.get("decorators", []) if d["type"] == "allowed"), None)
            if isinstance(allowed, list) and kind in ("string", "int"):
                return Value(kind, tuple(allowed))
            return Value(kind)
        if name in variables and name not in ctx.seen_vars:
            ctx.seen_vars.add(name)
            try:
                return self._value(ctx, variables[name]["value"])
            finally:
                ctx.seen_vars.discard(name)
        return Value("any")  # a resource, a module, a loop variable

    def _operator(self, ctx: FileContext, operator: dict[str, Any]) -> Value:
        kind = operator.get("type")
        operands = operator.get("operands", {})
        if kind == "conditional":
            return Value("branches", node=(operands.get("true_value"), operands.get("false_value")))
        if kind == "coalesce":
            return Value("branches", node=tuple(operands.values()))
        return Value(OPERATOR_KINDS.get(kind, "any"))

    # -- types -----------------------------------------------------------------------------------------

    def _resolve(self, file_name: str, ref: dict[str, Any]) -> dict[str, Any]:
        target = ref["$ref"]
        assert target.startswith("#/"), target
        return self.types.files[file_name][int(target[2:])]

    def _check_value(self, ctx, value: Value, file_name, ref, path, errors, *, top=False, existing=False) -> None:
        if value.kind == "branches":
            for expr in value.node:
                self._check_value(ctx, self._value(ctx, expr), file_name, ref, path, errors, top=top, existing=existing)
            return
        if value.kind == "any":
            return
        type_ = self._resolve(file_name, ref)
        tag = type_["$type"]
        if tag == "AnyType":
            return
        if tag == "UnionType":
            if value.literals is not None and len(value.literals) > 1:
                # each value the expression can take must fit some member
                for literal in value.literals:
                    self._check_value(ctx, Value(value.kind, (literal,)), file_name, ref, path, errors)
                return
            failures = []
            for member in type_["elements"]:
                member_errors: list[tuple[str, str]] = []
                self._check_value(ctx, value, file_name, member, path, member_errors)
                if not member_errors:
                    return
                failures.append(member_errors)
            options = [self._describe(file_name, m) for m in type_["elements"]]
            best = min(failures, key=len)
            if value.literals is not None:
                errors.append((path, f"{_show(value.literals[0])} is not one of {', '.join(options)}"))
            elif all(where == path for failure in failures for where, _ in failure):
                errors.append((path, f"a {value.kind} cannot be {' | '.join(options)}"))
            else:
                errors.extend(best)
            return
        if tag == "StringLiteralType":
            if value.kind != "string":
                errors.append((path, f"expected the string '{type_['value']}', got a {value.kind}"))
            elif value.literals is not None:
                for literal in value.literals:
                    if literal != type_["value"]:
                        errors.append((path, f"{_show(literal)} is not '{type_['value']}'"))
            return
        if tag == "StringType":
            if value.kind != "string":
                errors.append((path, f"expected a string, got a {value.kind}"))
                return
            for literal in value.literals or ():
                self._check_string_bounds(type_, literal, path, errors)
            return
        if tag == "IntegerType":
            if value.kind != "int":
                errors.append((path, f"expected an integer, got a {value.kind}"))
                return
            for literal in value.literals or ():
                if "minValue" in type_ and literal < type_["minValue"]:
                    errors.append((path, f"{literal} is below the minimum {type_['minValue']}"))
                if "maxValue" in type_ and literal > type_["maxValue"]:
                    errors.append((path, f"{literal} is above the maximum {type_['maxValue']}"))
            return
        if tag == "BooleanType":
            if value.kind != "bool":
                errors.append((path, f"expected a bool, got a {value.kind}"))
            return
        if tag == "NullType":
            if value.kind != "null":
                errors.append((path, f"expected null, got a {value.kind}"))
            return
        if tag == "ArrayType":
            if value.kind != "array":
                errors.append((path, f"expected an array, got a {value.kind}"))
                return
            for index, item in enumerate(value.node or ()):
                self._check_value(ctx, self._value(ctx, item), file_name, type_["itemType"], f"{path}[{index}]", errors)
            return
        if tag in ("ObjectType", "DiscriminatedObjectType"):
            if value.kind != "object":
                errors.append((path, f"expected an object, got a {value.kind}"))
                return
            if value.node is not None:
                self._check_object(ctx, value.node, file_name, type_, path, errors, top=top, existing=existing)
            return
        if tag == "ResourceFunctionType":
            return
        errors.append((path, f"unknown type kind {tag} in the type file"))

    def _check_string_bounds(self, type_, literal: str, path: str, errors) -> None:
        if "minLength" in type_ and len(literal) < type_["minLength"]:
            errors.append((path, f"{_show(literal)} is shorter than {type_['minLength']} characters"))
        if "maxLength" in type_ and len(literal) > type_["maxLength"]:
            errors.append((path, f"{_show(literal)} is longer than {type_['maxLength']} characters"))
        pattern = type_.get("pattern")
        if pattern:
            try:
                compiled = re.compile(pattern)
            except re.error:  # a .NET-only construct: not checked here
                return
            if not compiled.search(literal):
                errors.append((path, f"{_show(literal)} does not match {pattern}"))

    def _object_properties(self, ctx, node, file_name, type_, path, errors) -> tuple[dict[str, Any], Any, str] | None:
        """Properties (and additionalProperties) of an object type; a discriminated one picks its element
        (None, with the problem reported, when the discriminator does not pick one)."""
        if type_["$type"] == "ObjectType":
            return type_.get("properties", {}), type_.get("additionalProperties"), type_.get("name", "object")
        key = type_["discriminator"]
        chosen = self._value(ctx, node.get(key)) if key in node else None
        properties = dict(type_.get("baseProperties", {}))
        if chosen is None:
            errors.append((_join(path, key), f"missing; one of {sorted(type_['elements'])} is required"))
            return None
        if chosen.literals is None:
            errors.append((_join(path, key), "must be a literal: it selects the shape of this object"))
            return None
        literal = chosen.literals[0]
        if literal not in type_["elements"]:
            suggestion = _suggest(str(literal), type_["elements"])
            errors.append((_join(path, key), f"{_show(literal)} is not one of {sorted(type_['elements'])}{suggestion}"))
            return None
        element = self._resolve(file_name, type_["elements"][literal])
        properties.update(element.get("properties", {}))
        return properties, element.get("additionalProperties"), element.get("name", type_.get("name", "object"))

    def _check_object(self, ctx, node, file_name, type_, path, errors, *, top=False, existing=False) -> None:
        selected = self._object_properties(ctx, node, file_name, type_, path, errors)
        if selected is None:
            return
        properties, additional, type_label = selected
        discriminator = type_.get("discriminator")
        for raw_key, expr in node.items():
            key = raw_key[1:-1] if raw_key.startswith("'") and raw_key.endswith("'") else raw_key
            where = _join(path, key)
            spec = properties.get(key)
            if key == discriminator:
                continue  # checked when the element was chosen
            if spec is None:
                if additional is not None:
                    self._check_value(ctx, self._value(ctx, expr), file_name, additional, where, errors)
                elif "${" in key:
                    errors.append((where, f"a computed key cannot name a property of {type_label}"))
                else:
                    errors.append((where, f"not a property of {type_label}{_suggest(key, properties)}"))
                continue
            if spec.get("flags", 0) & READ_ONLY:
                errors.append((where, f"read-only in {type_label}: Azure sets it, a template must not"))
                continue
            self._check_value(ctx, self._value(ctx, expr), file_name, spec["type"], where, errors)
        if existing:
            return
        for key, spec in properties.items():
            if spec.get("flags", 0) & REQUIRED and not spec.get("flags", 0) & READ_ONLY and key not in node \
                    and f"'{key}'" not in node:
                errors.append((_join(path, key), f"required by {type_label} but not set"))

    def _describe(self, file_name: str, ref: dict[str, Any]) -> str:
        type_ = self._resolve(file_name, ref)
        tag = type_["$type"]
        if tag == "StringLiteralType":
            return f"'{type_['value']}'"
        return {"StringType": "string", "IntegerType": "int", "BooleanType": "bool", "ArrayType": "array",
                "ObjectType": "object", "DiscriminatedObjectType": "object", "AnyType": "any"}.get(tag, tag)

    # -- reads of resource properties --------------------------------------------------------------------

    def _check_property_reads(self, ctx: FileContext) -> None:
        resources = ctx.json.get("resources", {})
        for where, expr in _expressions(ctx.json):
            for chain in _accessor_chains(expr):
                root, names = chain[0], chain[1:]
                if not _is_identifier(root) or str(root) not in resources or not names:
                    continue
                resource = resources[str(root)]
                found = self.types.lookup(resource["type"], resource["api_version"])
                if not found:
                    continue  # reported by the resource check
                file_name, ref = found[0]
                message = self._walk_read(file_name, ref, names)
                if message:
                    full = f"{resource['type']}@{resource['api_version']}"
                    ctx.problems.append(
                        Problem(ctx.rel, str(root), full, f"read {'.'.join([str(root), *names])} in {where}", message))

    def _walk_read(self, file_name: str, ref: dict[str, Any], names: list[str]) -> str | None:
        type_ = self._resolve(file_name, ref)
        for depth, name in enumerate(names):
            tag = type_["$type"]
            if tag == "DiscriminatedObjectType":
                merged = dict(type_.get("baseProperties", {}))
                for element_ref in type_["elements"].values():
                    merged.update(self._resolve(file_name, element_ref).get("properties", {}))
                properties, label = merged, type_.get("name", "object")
            elif tag == "ObjectType":
                if name not in type_.get("properties", {}) and type_.get("additionalProperties"):
                    return None
                properties, label = type_.get("properties", {}), type_.get("name", "object")
            else:
                return None  # Any, a union: not followed
            if name not in properties:
                return f"{name} is not a property of {label}{_suggest(name, properties)}"
            spec = properties[name]
            if spec.get("flags", 0) & 4 and not spec.get("flags", 0) & READ_ONLY:  # write-only: never returned
                return f"{name} is write-only in {label}: Azure never returns it"
            type_ = self._resolve(file_name, spec["type"])
        return None


def _unwrap(config: Any) -> Any:
    """The body of a resource declared with `if (...)` or `[for ...]`."""
    while isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(literal: Any) -> str:
    return f"'{literal}'" if isinstance(literal, str) else json.dumps(literal)


def _suggest(key: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if key.lower() in lowered:
            close = [lowered[key.lower()]]
    return f" (did you mean {close[0]}?)" if close else ""


def _expressions(parsed: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for section in ("variables", "outputs"):
        for name, entry in parsed.get(section, {}).items():
            yield f"{section[:-1]} {name}", entry.get("value")
    for name, entry in parsed.get("resources", {}).items():
        yield f"resource {name}", entry.get("config")
    for name, entry in parsed.get("modules", {}).items():
        yield f"module {name}", entry.get("config")


def _accessor_chains(expr: Any) -> Iterator[list[Any]]:
    """Every `a.b.c` in an expression, as [a, 'b', 'c'] (interpolations `${a.b}` included)."""
    if isinstance(expr, dict):
        operator = expr.get("operator") if set(expr) == {"operator"} else None
        if operator and operator.get("type") == "property_accessor":
            chain = _flatten(operator)
            if chain is not None:
                yield chain
                return
        for value in expr.values():
            yield from _accessor_chains(value)
    elif isinstance(expr, list):
        for value in expr:
            yield from _accessor_chains(value)
    elif isinstance(expr, str) and "${" in expr:
        for match in re.finditer(r"\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\s*\}", expr):
            first, *rest = match.group(1).split(".")
            yield [BicepElement(first), *rest]


def _flatten(operator: dict[str, Any]) -> list[Any] | None:
    """pycep nests `a.b.c` as a.(b.c) (and sometimes (a.b).c): both give [a, 'b', 'c']."""
    parts: list[Any] = []
    for operand in (operator["operands"]["operand_1"], operator["operands"]["operand_2"]):
        if isinstance(operand, dict) and set(operand) == {"operator"} \
                and operand["operator"].get("type") == "property_accessor":
            inner = _flatten(operand["operator"])
            if inner is None:
                return None
            parts += inner
        elif isinstance(operand, str):
            parts.append(operand)
        else:
            return None
    return parts


def main(argv: list[str]) -> int:
    args = list(argv)
    types_dir = TYPES_DIR
    if len(args) >= 2 and args[0] == "--types":
        types_dir, args = Path(args[1]), args[2:]
    if not args:
        print("usage: bicep_typecheck.py [--types DIR] DIR_OR_FILE...", file=sys.stderr)
        return 2
    checker = Checker(Types(types_dir))
    problems = checker.check_paths(Path(a) for a in args)
    for problem in problems:
        print(problem)
    print(f"bicep types: {len(checker.resources_checked)} resources checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
