"""Vendor the official Bicep type definitions that infra/ needs into tests/infra/bicep-types/, trimmed.

Source: Azure/bicep-types-az, `generated/<provider>/<namespace>/<version>/types.json` (one file per provider
and API version), as kept in the reference folder beside the project (`../shared/bicep-types/`, whose
INDEX.tsv names each file's source path and commit). For every file that holds a `type@apiVersion` used by a
resource in infra/**/*.bicep, this keeps those ResourceType entries and every type they reach (nothing
else), renumbers the `$ref`s, and writes the file under the same name, plus INDEX.tsv (source path, commit,
the resource types kept). The data is not edited otherwise.

    python3 tests/infra/vendor_bicep_types.py [--source DIR]       # rewrite the vendored files
    python3 tests/infra/vendor_bicep_types.py --check [--source DIR]  # exit 1 if they are not up to date

Run it (in the infra virtual environment: `.venv-infra/bin/python`) after adding a resource type or changing
an API version in infra/. test_bicep_types.py runs the `--check` comparison when the source folder exists.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pycep

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INFRA = ROOT / "infra"
DEST = HERE / "bicep-types"


def source_candidates() -> list[Path]:
    """Where the reference folder may be: $BICEP_TYPES_SOURCE, or ../shared beside the checkout (or beside
    the folder of worktrees)."""
    found = []
    if os.environ.get("BICEP_TYPES_SOURCE"):
        found.append(Path(os.environ["BICEP_TYPES_SOURCE"]))
    found += [ROOT.parent / "shared" / "bicep-types", ROOT.parent.parent / "shared" / "bicep-types"]
    return found


def find_source() -> Path | None:
    return next((p for p in source_candidates() if (p / "INDEX.tsv").is_file()), None)


def used_types(infra: Path = INFRA) -> set[str]:
    """`Provider/type@version` of every resource declared in infra/**/*.bicep (existing ones included)."""
    used = set()
    for path in sorted(infra.rglob("*.bicep")):
        parsed = pycep.BicepParser().parse(file_path=path)
        for resource in parsed.get("resources", {}).values():
            used.add(f"{resource['type']}@{resource['api_version']}")
    return used


def read_index(source: Path) -> list[dict[str, str]]:
    with (source / "INDEX.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _renumber(node: Any, mapping: dict[int, int]) -> Any:
    if isinstance(node, dict):
        return {k: (f"#/{mapping[int(v[2:])]}" if k == "$ref" else _renumber(v, mapping)) for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber(v, mapping) for v in node]
    return node


def trim(elements: list[dict[str, Any]], keep_names: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The ResourceType entries named in keep_names (case-insensitive) and all they reach, renumbered."""
    wanted = {n.lower() for n in keep_names}
    roots = [i for i, e in enumerate(elements) if e.get("$type") == "ResourceType" and e["name"].lower() in wanted]
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        index = stack.pop()
        if index in reached:
            continue
        reached.add(index)
        for ref in _refs(elements[index]):
            assert ref.startswith("#/"), ref
            stack.append(int(ref[2:]))
    order = sorted(reached)
    mapping = {old: new for new, old in enumerate(order)}
    kept = [_renumber(elements[i], mapping) for i in order]
    names = sorted(elements[i]["name"] for i in roots)
    return kept, names


def dump(elements: list[dict[str, Any]]) -> str:
    """One element per line: small diffs when a type file is refreshed."""
    return "[\n" + ",\n".join(json.dumps(e, sort_keys=True, ensure_ascii=False) for e in elements) + "\n]\n"


def build(source: Path, infra: Path = INFRA) -> dict[str, str]:
    """File name -> content of everything tests/infra/bicep-types/ should hold."""
    used = used_types(infra)
    outputs: dict[str, str] = {}
    index_rows = []
    covered: set[str] = set()
    for row in read_index(source):
        elements = json.loads((source / row["file"]).read_text())
        names_here = {e["name"].lower(): e["name"] for e in elements if e.get("$type") == "ResourceType"}
        keep = {u for u in used if u.lower() in names_here}
        if not keep:
            continue
        kept, names = trim(elements, keep)
        outputs[row["file"]] = dump(kept)
        covered |= {u.lower() for u in keep}
        index_rows.append((row["file"], row["source path in Azure/bicep-types-az"], row["commit"], " ".join(names)))
    missing = sorted(u for u in used if u.lower() not in covered)
    if missing:
        raise SystemExit(f"no type file in {source} holds {missing}: add it there first")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["file", "source path in Azure/bicep-types-az", "commit", "resource types kept"])
    writer.writerows(sorted(index_rows))
    outputs["INDEX.tsv"] = buffer.getvalue()
    return outputs


def differences(expected: dict[str, str], dest: Path = DEST) -> list[str]:
    present = {p.name: p.read_text() for p in dest.glob("*") if p.suffix in (".json", ".tsv")} if dest.is_dir() else {}
    problems = [f"{name} is missing" for name in sorted(set(expected) - set(present))]
    problems += [f"{name} is vendored but infra/ no longer needs it" for name in sorted(set(present) - set(expected))]
    problems += [f"{name} differs from the source" for name in sorted(set(expected) & set(present))
                 if expected[name] != present[name]]
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    source = Path(args[args.index("--source") + 1]) if "--source" in args else find_source()
    if source is None:
        print(f"no bicep-types source found in {[str(p) for p in source_candidates()]}; pass --source DIR",
              file=sys.stderr)
        return 2
    expected = build(source)
    if check:
        problems = differences(expected)
        for problem in problems:
            print(f"tests/infra/bicep-types/{problem}")
        return 1 if problems else 0
    DEST.mkdir(exist_ok=True)
    for stale in DEST.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    for name, content in expected.items():
        (DEST / name).write_text(content)
    print(f"vendored {len(expected) - 1} type files from {source} into {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
