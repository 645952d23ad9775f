"""Every Bicep file parses, and main.bicep, its modules and main.parameters.json fit together."""

from __future__ import annotations

import json
import re

from infra_bicep import INFRA, Bicep

import pytest


def test_every_bicep_file_parses(infra):
    assert set(infra.files) >= {
        "main.bicep",
        "app/function.bicep",
        "app/rbac.bicep",
        "app/incoming-call-subscription.bicep",
        "core/communication.bicep",
        "core/identity.bicep",
        "core/keyvault.bicep",
        "core/monitoring.bicep",
        "core/storage.bicep",
    }
    for rel in infra.files:
        assert infra[rel].json, rel


def test_main_targets_the_subscription_and_makes_its_resource_group(infra):
    assert infra.main.json["globals"]["scope"]["value"] == "subscription"
    rg = infra.main.one("Microsoft.Resources/resourceGroups")
    assert "azd-env-name" in {k.strip("'") for k in infra.main.variables["tags"]["value"]}
    assert rg["tags"] == "tags"


def test_every_module_path_exists_and_gets_only_declared_params(infra):
    for name, module in infra.main.modules.items():
        path = module["detail"]["path"]
        assert (INFRA / path).is_file(), f"module {name}: {path} is missing"
        target = infra[path]
        given = set(infra.main.module(name).get("params", {}))
        declared = set(target.params)
        assert given <= declared, f"module {name} passes undeclared params {sorted(given - declared)}"
        missing = {p for p in declared if not _has_default(target, p)} - given
        assert not missing, f"module {name} does not pass required params {sorted(missing)}"


def _has_default(bicep: Bicep, param: str) -> bool:
    text = bicep.path.read_text()
    return re.search(rf"^param {re.escape(param)} \S+ =", text, re.M) is not None


def test_module_outputs_used_by_main_exist(infra):
    text = infra.main.path.read_text()
    for name, module in infra.main.modules.items():
        outputs = set(infra[module["detail"]["path"]].outputs)
        for used in re.findall(rf"\b{name}\.outputs\.(\w+)", text):
            assert used in outputs, f"main.bicep reads {name}.outputs.{used}, which the module does not declare"


def test_parameters_file_names_only_main_params_and_every_required_one(infra):
    data = json.loads((INFRA / "main.parameters.json").read_text())
    given = set(data["parameters"])
    declared = set(infra.main.params)
    assert given <= declared, f"main.parameters.json sets unknown params {sorted(given - declared)}"
    required = {p for p in declared if not _has_default(infra.main, p)}
    assert required <= given, f"main.parameters.json misses required params {sorted(required - given)}"
    # azd fills these from its environment; the secret never sits in the file.
    assert data["parameters"]["callbackSecret"]["value"] == "${CALLBACK_SECRET}"
    assert data["parameters"]["subscribeIncomingCall"]["value"].startswith("${SUBSCRIBE_INCOMING_CALL")


def test_abbreviations_used_in_main_exist(infra):
    abbrs = json.loads((INFRA / "abbreviations.json").read_text())
    used = set(re.findall(r"abbrs\.(\w+)", infra.main.path.read_text()))
    assert used and used <= set(abbrs), f"unknown abbreviations {sorted(used - set(abbrs))}"


@pytest.mark.parametrize("rel", ["core/keyvault.bicep", "core/storage.bicep", "app/function.bicep"])
def test_checkov_skips_sit_inside_a_resource_and_give_a_reason(infra, rel):
    text = (INFRA / rel).read_text()
    skips = re.findall(r"checkov:skip=([A-Z0-9_]+)(:?)\s*(.*)", text)
    assert skips, f"{rel} has no checkov skips (remove this case if that is now intended)"
    for check, colon, reason in skips:
        assert colon and len(reason.strip()) > 15, f"{rel}: skip of {check} needs a reason"


# Regions that offer the Flex Consumption plan, as listed by Microsoft's azd quickstart for Python on Flex
# Consumption (Azure-Samples/functions-quickstart-python-http-azd, infra/main.bicep at 947c194, 2025-05-07),
# without its canary region eastus2euap. The Functions docs point to `az functionapp
# list-flexconsumption-locations` for the live list (learn.microsoft.com/azure/azure-functions/
# flex-consumption-how-to#view-currently-supported-regions).
FLEX_CONSUMPTION_REGIONS = {
    "australiaeast", "australiasoutheast", "brazilsouth", "canadacentral", "centralindia", "centralus",
    "eastasia", "eastus", "eastus2", "francecentral", "germanywestcentral", "italynorth", "japaneast",
    "koreacentral", "northcentralus", "northeurope", "norwayeast", "southafricanorth", "southcentralus",
    "southeastasia", "southindia", "spaincentral", "swedencentral", "uaenorth", "uksouth", "ukwest",
    "westcentralus", "westeurope", "westus", "westus2", "westus3",
}


def test_location_is_limited_to_regions_that_offer_flex_consumption(infra):
    allowed = infra.main.decorators("location")["allowed"]
    assert len(allowed) == len(set(allowed)) and set(allowed) == FLEX_CONSUMPTION_REGIONS
    assert "eastus2euap" not in allowed  # an early-access region, not for customers' deployments
    # azd asks for the location from the same parameter, and the region the README deploys to is allowed.
    assert infra.main.params["location"]["decorators"][-1]["argument"] == {"azd": {"type": "location"}}
    readme = (INFRA.parent / "README.md").read_text()
    for region in re.findall(r"azd env set AZURE_LOCATION (\w+)", readme) + re.findall(r"-l (\w+) -f infra", readme):
        assert region in allowed, f"README deploys to {region}, which main.bicep does not allow"
