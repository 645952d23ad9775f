"""The azd predeploy hook (and preprovision, which provisions the rules into ROUTING_RULES) refuses a routing
ruleset that the app would refuse at load, before anything is deployed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra_bicep import INFRA, ROOT

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")

BAD_RULES = {"rules": [{"name": "vip", "match": {"to": ["+18005550100"]}, "action": "redirect", "target": "nobody"}],
             "default": {"action": "answer"}}
FAKE_AZD = '#!/bin/sh\necho "$*" >> "$AZD_LOG"\nexit 0\n'


def project_copy(tmp_path: Path, rules: object) -> Path:
    """The hooks with what they run (devtools/rules.py, the app's shared/) and infra/routing-rules.json = rules."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "console")
    shutil.copytree(ROOT / "shared", root / "shared", ignore=ignore)
    (root / "devtools").mkdir()
    for name in ("__init__.py", "rules.py"):
        shutil.copy(ROOT / "devtools" / name, root / "devtools" / name)
    shutil.copytree(INFRA / "hooks", root / "infra" / "hooks")
    text = rules if isinstance(rules, str) else json.dumps(rules)
    (root / "infra" / "routing-rules.json").write_text(text)
    return root


def run(tmp_path: Path, root: Path, hook: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("azd", FAKE_AZD), ("python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "azd.log"
    log.touch()
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AZD_LOG": str(log), **env}
    # Run from elsewhere: the hook finds the project from its own path, as azd runs it from the project root.
    proc = subprocess.run(["sh", str(root / "infra" / "hooks" / hook)], env=full_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    return proc, log.read_text().splitlines()


def test_azure_yaml_runs_the_predeploy_check_on_both_shells():
    text = (ROOT / "azure.yaml").read_text()
    block = text[text.index("  predeploy:"):text.index("  postdeploy:")]
    assert "run: ./infra/hooks/predeploy.sh" in block and "run: ./infra/hooks/predeploy.ps1" in block
    assert "continueOnError: false" in block
    ps1 = (INFRA / "hooks" / "predeploy.ps1").read_text()
    assert "devtools.rules check infra/routing-rules.json" in ps1 and "exit 1" in ps1
    assert "predeploy.ps1" in (INFRA / "hooks" / "preprovision.ps1").read_text()


def test_the_deployed_ruleset_passes_the_check(tmp_path):
    proc, _ = run(tmp_path, ROOT, "predeploy.sh")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("infra/routing-rules.json: valid: ")


def test_predeploy_refuses_a_bad_ruleset_naming_the_rule_and_field(tmp_path):
    root = project_copy(tmp_path, BAD_RULES)
    proc, _ = run(tmp_path, root, "predeploy.sh")
    assert proc.returncode == 1
    assert "rule 'vip' (rules[0]).target 'nobody'" in proc.stderr
    assert "infra/routing-rules.json is not a valid ruleset" in proc.stderr


def test_predeploy_refuses_a_ruleset_that_is_not_json(tmp_path):
    root = project_copy(tmp_path, '{"rules": [], "default": ')
    proc, _ = run(tmp_path, root, "predeploy.sh")
    assert proc.returncode == 1 and "is not valid JSON" in proc.stderr


def test_predeploy_accepts_a_good_ruleset_in_a_copy(tmp_path):
    # The copy is complete enough to pass: the refusals above are the ruleset's, not a missing file's.
    root = project_copy(tmp_path, {"rules": [{"name": "sales", "match": {"to": ["+18005550111"]},
                                              "action": "answer"}], "default": {"action": "reject"}})
    proc, _ = run(tmp_path, root, "predeploy.sh")
    assert proc.returncode == 0, proc.stderr
    assert "1 rule, 0 flows, 0 calendars, 1 number routed (+18005550111)" in proc.stdout


def test_preprovision_refuses_a_bad_ruleset_before_it_touches_the_environment(tmp_path):
    root = project_copy(tmp_path, BAD_RULES)
    proc, calls = run(tmp_path, root, "preprovision.sh")
    assert proc.returncode == 1 and "rule 'vip'" in proc.stderr
    assert calls == []
