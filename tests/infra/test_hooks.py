"""The azd hooks, run with a stand-in `azd` that records its calls: the IncomingCall second pass."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra_bicep import INFRA, ROOT

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")

FAKE_AZD = """#!/bin/sh
echo "$*" >> "$AZD_LOG"
if [ "$1" = "provision" ] && [ -n "${FAIL_PROVISIONS:-}" ]; then
  n=$(grep -c '^provision' "$AZD_LOG")
  [ "$n" -le "$FAIL_PROVISIONS" ] && exit 1
fi
exit 0
"""


def run_hook(tmp_path: Path, hook: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    azd = bin_dir / "azd"
    azd.write_text(FAKE_AZD)
    azd.chmod(0o755)
    sleep = bin_dir / "sleep"  # no real waiting in tests
    sleep.write_text("#!/bin/sh\nexit 0\n")
    sleep.chmod(0o755)
    log = tmp_path / "azd.log"
    log.touch()
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AZD_LOG": str(log), **env}
    proc = subprocess.run(["sh", str(INFRA / "hooks" / hook)], env=full_env, cwd=ROOT, capture_output=True, text=True)
    return proc, log.read_text().splitlines()


def test_azure_yaml_wires_the_hooks():
    text = (ROOT / "azure.yaml").read_text()
    for hook in ("preprovision", "postdeploy", "postdown"):
        assert f"run: ./infra/hooks/{hook}.sh" in text and f"run: ./infra/hooks/{hook}.ps1" in text
        assert (INFRA / "hooks" / f"{hook}.sh").is_file() and (INFRA / "hooks" / f"{hook}.ps1").is_file()
    assert "host: function" in text and "language: python" in text


def test_first_deploy_turns_the_subscription_on_and_provisions_again(tmp_path):
    proc, calls = run_hook(tmp_path, "postdeploy.sh", SUBSCRIBE_INCOMING_CALL="false")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["env set SUBSCRIBE_INCOMING_CALL true", "provision --no-prompt"]


def test_later_deploys_do_not_provision_again(tmp_path):
    proc, calls = run_hook(tmp_path, "postdeploy.sh", SUBSCRIBE_INCOMING_CALL="true")
    assert proc.returncode == 0 and calls == []


def test_second_pass_retries_while_the_function_is_indexed(tmp_path):
    proc, calls = run_hook(tmp_path, "postdeploy.sh", FAIL_PROVISIONS="2")
    assert proc.returncode == 0, proc.stderr
    assert calls.count("provision --no-prompt") == 3


def test_second_pass_gives_up_after_three_tries(tmp_path):
    proc, calls = run_hook(tmp_path, "postdeploy.sh", FAIL_PROVISIONS="9")
    assert proc.returncode == 1 and calls.count("provision --no-prompt") == 3
    assert "azd provision" in proc.stderr


def test_preprovision_generates_a_long_secret_once(tmp_path):
    proc, calls = run_hook(tmp_path, "preprovision.sh")
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 1 and calls[0].startswith("env set CALLBACK_SECRET ")
    assert len(calls[0].split()[-1]) >= 32
    proc, calls = run_hook(tmp_path, "preprovision.sh", CALLBACK_SECRET="x" * 40)
    assert proc.returncode == 0 and len(calls) == 1  # the second run recorded nothing new


def test_postdown_resets_the_flag(tmp_path):
    proc, calls = run_hook(tmp_path, "postdown.sh")
    assert proc.returncode == 0 and calls == ["env set SUBSCRIBE_INCOMING_CALL false"]
