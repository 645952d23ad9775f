"""Helpers for the infra tests: every Bicep file of infra/ parsed with pycep-parser.

These tests run in their own virtual environment (.venv-infra, see devtools/check_infra.py). Collected
from an environment without pycep-parser (the app's), they are skipped rather than failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pycep

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def render(expr: Any) -> Any:
    """A pycep expression as readable text: property accessors as dotted paths, strings as they are."""
    if isinstance(expr, dict) and "operator" in expr:
        op = expr["operator"]
        if op["type"] == "property_accessor":
            return f"{render(op['operands']['operand_1'])}.{render(op['operands']['operand_2'])}"
    if isinstance(expr, dict) and "function" in expr:
        return json.dumps(expr["function"], sort_keys=True)
    return expr


class Bicep:
    """One parsed Bicep file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.json: dict[str, Any] = pycep.BicepParser().parse(file_path=path)

    @property
    def params(self) -> dict[str, Any]:
        return self.json.get("parameters", {})

    @property
    def variables(self) -> dict[str, Any]:
        return self.json.get("variables", {})

    @property
    def resources(self) -> dict[str, Any]:
        return self.json.get("resources", {})

    @property
    def modules(self) -> dict[str, Any]:
        return self.json.get("modules", {})

    @property
    def outputs(self) -> dict[str, Any]:
        return self.json.get("outputs", {})

    def resources_of(self, rtype: str, *, existing: bool = False) -> dict[str, dict[str, Any]]:
        return {n: r for n, r in self.resources.items() if r["type"] == rtype and r["existing"] == existing}

    def one(self, rtype: str) -> dict[str, Any]:
        found = self.resources_of(rtype)
        assert len(found) == 1, f"{self.path.name}: expected one {rtype}, found {sorted(found)}"
        return next(iter(found.values()))["config"]

    def module(self, name: str) -> dict[str, Any]:
        """A module's body (name, scope, params), whether or not it has a condition."""
        config = self.modules[name]["config"]
        return config["config"] if "condition" in config else config

    def decorators(self, param: str) -> dict[str, Any]:
        return {d["type"]: d.get("argument") for d in self.params[param]["decorators"]}


class Infra:
    def __init__(self) -> None:
        self.files = {p.relative_to(INFRA).as_posix(): p for p in sorted(INFRA.rglob("*.bicep"))}
        self._parsed: dict[str, Bicep] = {}

    def __getitem__(self, rel: str) -> Bicep:
        if rel not in self._parsed:
            self._parsed[rel] = Bicep(self.files[rel])
        return self._parsed[rel]

    @property
    def main(self) -> Bicep:
        return self["main.bicep"]

    @property
    def function(self) -> Bicep:
        return self["app/function.bicep"]

    def app_settings(self) -> dict[str, Any]:
        settings = self.function.one("Microsoft.Web/sites/config")
        assert settings["name"] == "appsettings"
        return settings["properties"]
