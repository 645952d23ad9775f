"""The Function App: Flex Consumption, Linux, Python 3.11, deployment container, identity, always-ready."""

from __future__ import annotations

from infra_bicep import INFRA, render


def test_plan_is_flex_consumption_on_linux(infra):
    plan = infra.function.one("Microsoft.Web/serverfarms")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    assert plan["properties"]["reserved"] is True  # Linux


def test_site_is_a_linux_python_311_function_app_on_that_plan(infra):
    site = infra.function.one("Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert render(site["properties"]["serverFarmId"]) == "plan.id"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["siteConfig"]["minTlsVersion"] == "1.2"


def test_site_is_tagged_for_azd_service_api(infra):
    # azd deploys the service "api" of azure.yaml to the resource carrying this tag.
    assert "union(tags, { 'azd-service-name': 'api' })" in infra.function.path.read_text()
    assert "  api:\n" in (INFRA.parent / "azure.yaml").read_text()


def test_deployment_package_goes_to_a_blob_container_with_the_user_assigned_identity(infra):
    storage = infra.function.one("Microsoft.Web/sites")["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["value"] == "${storageBlobEndpoint}${deploymentContainerName}"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    # main.bicep creates that container in the storage account and hands the same name to the app.
    assert infra.main.module("storage")["params"]["deploymentContainerName"] == "deploymentContainerName"
    assert infra.main.module("functionApp")["params"]["deploymentContainerName"] == "deploymentContainerName"
    container = infra["core/storage.bicep"].one("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["name"] == "deploymentContainerName"
    assert container["properties"]["publicAccess"] == "None"


def test_site_runs_as_the_user_assigned_identity_also_for_key_vault_references(infra):
    site = infra.function.one("Microsoft.Web/sites")
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_always_ready_instances_are_a_parameter_for_incoming_call_and_http(infra):
    main_param = infra.main.params["alwaysReadyInstances"]
    assert main_param["type"] == "int" and main_param["default"] == 0
    assert infra.main.module("functionApp")["params"]["alwaysReadyInstances"] == "alwaysReadyInstances"
    always_ready = infra.function.one("Microsoft.Web/sites")["properties"]["functionAppConfig"]["scaleAndConcurrency"]["alwaysReady"]
    branches = always_ready["operator"]["operands"]
    assert branches["true_value"] == []
    groups = {g["name"]: g["instanceCount"] for g in branches["false_value"]}
    assert groups == {"function:incoming_call": "alwaysReadyInstances", "http": "alwaysReadyInstances"}


def test_basic_publishing_credentials_are_off(infra):
    policies = infra.function.resources_of("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {p["config"]["name"]: p["config"]["properties"]["allow"] for p in policies.values()} == {"ftp": False, "scm": False}


def test_incoming_call_is_a_function_of_the_app(infra):
    """The subscription's destination names a function that function_app.py registers."""
    from infra_bicep import ROOT

    source = (ROOT / "function_app.py").read_text()
    assert "@app.event_grid_trigger" in source and "def incoming_call(" in source
