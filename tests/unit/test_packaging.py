"""What azd ships: the app's modules precompiled, and nothing of the dev tools, tests or secrets."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_keeps_compiled_modules_and_leaves_out_dev_files():
    ignored = set(ROOT.joinpath(".funcignore").read_text().split())
    assert "__pycache__" not in ignored and "*.pyc" not in ignored
    for entry in ("tests", "devtools", "infra", ".venv", "node_modules", "local.settings.json", ".azure"):
        assert entry in ignored, entry


def test_azd_compiles_the_apps_modules_before_packaging():
    azure_yaml = ROOT.joinpath("azure.yaml").read_text()
    assert "prepackage:" in azure_yaml
    assert "compileall -q --invalidation-mode checked-hash function_app.py shared" in azure_yaml
