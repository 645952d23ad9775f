"""README.md, "Deploy to Azure", says what infra/ does: every azd value, the roles, the hook's attempts."""

from __future__ import annotations

import json
import re

from infra_bicep import INFRA, ROOT


def deploy_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Deploy to Azure")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def test_every_azd_value_of_the_parameters_file_is_in_the_settings_table():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    section = deploy_section()
    for name, entry in parameters.items():
        match = re.fullmatch(r"\$\{(\w+)(=[^}]*)?\}", str(entry["value"]))
        assert match, f"{name}: {entry['value']}"
        variable, default = match.group(1), (match.group(2) or "")[1:]
        if variable == "AZURE_ENV_NAME":
            continue  # the environment's own name, given to `azd env new`
        row = next((line for line in section.splitlines() if line.startswith(f"| `{variable}` |")), None)
        assert row, f"README's settings table lacks {variable}"
        assert f"`{name}`" in row, f"the row of {variable} does not name the Bicep parameter {name}"
        if default:
            assert f"`{default}`" in row, f"the row of {variable} does not give its default {default}"


def test_every_role_assignment_is_in_the_roles_table(infra):
    section = deploy_section()
    roles = infra["app/rbac.bicep"].variables["roles"]["value"]
    for key in roles:
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", key).lower()
        assert re.search(rf"\| \**{re.escape(words)}\** \|", section.lower()), f"README's roles table lacks {words}"


def test_the_postdeploy_hook_is_described_by_its_attempts():
    hook = (INFRA / "hooks" / "postdeploy.sh").read_text()
    attempts = int(re.search(r'if \[ "\$attempt" -ge (\d+) \]', hook).group(1))
    section = deploy_section()
    words = {3: "three"}[attempts]
    assert f"makes up to {words} attempts" in section
    assert "retries three times" not in section


def test_what_azd_up_does_lists_its_hooks():
    """The hooks `azd up` runs, each named in the numbered list (prepackage was once missing from it)."""
    azure_yaml = (ROOT / "azure.yaml").read_text()
    section = deploy_section()
    steps = section[section.index("What `azd up` does"):section.index("#### Why two provisions")]
    for hook in ("prepackage", "preprovision", "postdeploy"):
        assert re.search(rf"^\s+{hook}:\s*$", azure_yaml, re.M), f"azure.yaml has no {hook} hook"
        assert f"**{hook} hook**" in steps, f"'What azd up does' does not list the {hook} hook"
    order = [steps.index(f"**{hook} hook**") for hook in ("prepackage", "preprovision", "postdeploy")]
    assert order == sorted(order), "azd up packages, then provisions, then deploys"


def test_the_region_list_is_the_one_main_bicep_allows(infra):
    section = deploy_section()
    bullet = section[section.index("- A region that offers the Flex Consumption plan"):section.index("### Deploy: `azd up`")]
    listed = re.findall(r"`([a-z0-9]+)`", bullet[bullet.index("is created):"):bullet.index("This is the list")])
    assert listed == sorted(infra.main.decorators("location")["allowed"])
