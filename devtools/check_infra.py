#!/usr/bin/env python3
"""Check infra/ offline: the infra tests (pycep-parser; among them every resource checked against Azure's
official Bicep type definitions vendored in tests/infra/bicep-types/) and a checkov scan with zero failed
checks.

Run from anywhere as `python3 devtools/check_infra.py` (stdlib only). It creates or reuses two virtual
environments and installs their pinned tools when the pins changed:

  .venv-infra          requirements-infra.txt             pytest + pycep-parser, runs tests/infra
  .venv-infra-checkov  tests/infra/requirements-checkov.txt  checkov (its pins conflict with the above)

checkov exits 0 on a file it could not parse, so its JSON report is read instead: any failed check, any
parsing error, a skip without a reason or an empty scan fails this script. The last line printed is the
summary: `infra: N passed, N failed, N skipped` (pytest and checkov counts added up).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
TESTS = ROOT / "tests" / "infra"
TEST_VENV = ROOT / ".venv-infra"
TEST_REQUIREMENTS = ROOT / "requirements-infra.txt"
CHECKOV_VENV = ROOT / ".venv-infra-checkov"
CHECKOV_REQUIREMENTS = TESTS / "requirements-checkov.txt"
STAMP = ".requirements.sha256"


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def _bin(env: Path, name: str) -> Path:
    scripts = env / ("Scripts" if os.name == "nt" else "bin")
    return scripts / (f"{name}.exe" if os.name == "nt" else name)


def ensure_env(env: Path, requirements: Path) -> Path:
    """Create the venv if needed and install the requirements if they changed since the last install."""
    python = _bin(env, "python")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = env / STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    if not python.exists():
        print(f"check_infra: creating {env.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=env.exists()).create(env)
    print(f"check_infra: installing {requirements.relative_to(ROOT)} into {env.relative_to(ROOT)}", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        check=True,
    )
    stamp.write_text(digest + "\n")
    return python


def run_tests(python: Path, extra_args: list[str]) -> Counts:
    """pytest tests/infra with its own ini file; counts read from a JUnit XML report."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [str(python), "-m", "pytest", "-c", str(TESTS / "pytest.ini"), str(TESTS), "-q", f"--junitxml={report}"]
        code = subprocess.run(cmd + extra_args, cwd=ROOT).returncode
        counts = Counts()
        if not report.exists():
            counts.failed = 1
            counts.problems.append(f"pytest exited {code} without a report")
            return counts
        root = ET.parse(report).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            total = int(suite.get("tests", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", 0))
            counts.passed += total - failed - skipped
            counts.failed += failed
            counts.skipped += skipped
    if code != 0 and counts.failed == 0:
        counts.failed = 1
        counts.problems.append(f"pytest exited {code}")
    elif counts.failed:
        counts.problems.append(f"pytest: {counts.failed} failed")
    if counts.passed == 0 and not counts.failed:
        counts.failed = 1
        counts.problems.append("pytest ran no infra test")
    return counts


def summarize_checkov(report: Any) -> Counts:
    """Counts and problems of a checkov `-o json` report (one dict, or a list of them, one per framework)."""
    counts = Counts()
    reports = report if isinstance(report, list) else [report]
    scanned = 0
    for entry in reports:
        if not isinstance(entry, dict) or "results" not in entry:
            # checkov prints a bare summary when it found no file to scan
            continue
        results = entry["results"]
        summary = entry.get("summary", {})
        scanned += int(summary.get("resource_count", 0))
        failed = results.get("failed_checks", [])
        counts.passed += len(results.get("passed_checks", []))
        counts.failed += len(failed)
        for check in failed:
            counts.problems.append(
                f"checkov {check['check_id']} failed on {check.get('resource')} ({check.get('file_path')}): {check.get('check_name')}"
            )
        for path in results.get("parsing_errors", []):
            counts.failed += 1
            counts.problems.append(f"checkov could not parse {path}")
        for check in results.get("skipped_checks", []):
            counts.skipped += 1
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            if not reason or reason == "No comment provided":
                counts.failed += 1
                counts.problems.append(f"checkov skip of {check['check_id']} on {check.get('resource')} gives no reason")
    if scanned == 0:
        counts.failed += 1
        counts.problems.append("checkov scanned no Bicep resource")
    return counts


def run_checkov(env: Path) -> Counts:
    cmd = [
        str(_bin(env, "checkov")),
        "--directory", str(INFRA),
        "--framework", "bicep",
        "--output", "json",
        "--skip-download",  # offline: no policy metadata from the vendor's platform
    ]
    env_vars = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="ERROR")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env_vars)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        counts = Counts(failed=1)
        counts.problems.append(f"checkov exited {proc.returncode} without a JSON report: {proc.stderr.strip()[-500:]}")
        return counts
    return summarize_checkov(report)


def main(argv: list[str]) -> int:
    test_python = ensure_env(TEST_VENV, TEST_REQUIREMENTS)
    ensure_env(CHECKOV_VENV, CHECKOV_REQUIREMENTS)
    tests = run_tests(test_python, argv)
    scan = run_checkov(CHECKOV_VENV)
    for problem in tests.problems + scan.problems:
        print(f"check_infra: FAIL {problem}")
    print(
        f"check_infra: pytest {tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped; "
        f"checkov {scan.passed} passed, {scan.failed} failed, {scan.skipped} skipped (each with its reason)"
    )
    failed = tests.failed + scan.failed
    print(f"infra: {tests.passed + scan.passed} passed, {failed} failed, {tests.skipped + scan.skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
