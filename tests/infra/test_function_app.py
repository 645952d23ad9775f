"""The Function App: Flex Consumption, Linux, Python 3.11, deployment container, identity, always-ready."""

from __future__ import annotations

import ast
import re

from infra_bicep import INFRA, ROOT, render


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
    container = infra["core/storage.bicep"].resources["deploymentContainer"]["config"]
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


# Functions that infra/ subscribes to before function_app.py has them on this branch: the app code is being
# written in parallel. Each may be absent from function_app.py; if present it must be an Event Grid trigger.
WRITTEN_IN_PARALLEL = {"recording_file_status": "issue 13 (voicemail), the flows work"}


def event_grid_functions() -> dict[str, str]:
    """Function name -> "event_grid" or another trigger kind, for every function function_app.py registers."""
    tree = ast.parse((ROOT / "function_app.py").read_text())
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        name, kind = node.name, None
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            attr = (call.func if call else decorator)
            if not isinstance(attr, ast.Attribute):
                continue
            if attr.attr == "function_name" and call and call.args:
                name = ast.literal_eval(call.args[0])
            elif attr.attr == "function_name" and call:
                name = next(ast.literal_eval(k.value) for k in call.keywords if k.arg == "name")
            elif attr.attr.endswith("_trigger") or attr.attr == "route":
                kind = "event_grid" if attr.attr == "event_grid_trigger" else attr.attr
        if kind:
            found[name] = kind
    return found


def subscribed_functions(infra) -> dict[str, str]:
    """Function name -> the Bicep file whose Event Grid subscription delivers to it."""
    found = {}
    for rel in infra.files:
        for sub in infra[rel].resources_of("Microsoft.EventGrid/systemTopics/eventSubscriptions").values():
            target = sub["config"]["properties"]["destination"]["properties"]["resourceId"]
            match = re.fullmatch(r"\$\{functionApp\.id\}/functions/(\w+)", target)
            assert match, f"{rel}: destination {target} is not a function of the app"
            found[match.group(1)] = rel
    return found


def test_every_event_grid_function_of_the_app_is_subscribed_and_nothing_else(infra):
    registered = event_grid_functions()
    assert registered.get("incoming_call") == "event_grid", "function_app.py no longer registers incoming_call"
    subscribed = subscribed_functions(infra)
    event_grid = {name for name, kind in registered.items() if kind == "event_grid"}
    assert event_grid <= set(subscribed), f"Event Grid triggers without a subscription: {sorted(event_grid - set(subscribed))}"
    for name in set(subscribed) - event_grid:
        assert name in WRITTEN_IN_PARALLEL, f"{subscribed[name]} subscribes {name}, which function_app.py does not register"
        assert name not in registered, f"{name} is registered as a {registered[name]} trigger, not an Event Grid one"
    assert set(subscribed) >= {"incoming_call", "recording_file_status"}


def test_every_subscription_waits_for_the_second_pass(infra):
    """Azure refuses a subscription to a function that does not exist yet: every module holding one is
    created only when subscribeIncomingCall is set, after the code is deployed (postdeploy hook)."""
    subscription_files = set(subscribed_functions(infra).values())
    for name, module in infra.main.modules.items():
        if module["detail"]["path"] in subscription_files:
            assert module["config"].get("condition") == "subscribeIncomingCall", name
            subscription_files.discard(module["detail"]["path"])
    assert not subscription_files, f"subscriptions outside a module of main.bicep: {subscription_files}"
