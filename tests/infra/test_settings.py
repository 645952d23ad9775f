"""The Function App's settings: every setting the app's config declares as deployed, identity-based host
storage, and no key or connection string where the identity can do."""

from __future__ import annotations

from infra_bicep import render

# Settings the Functions host and its platform read (not the app's config).
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
}
# Settings infra/ sets for app code being written in parallel (issue 13, voicemail: the flows work declares
# it in shared/config.py); each must also be set by a test below.
AHEAD_OF_THE_APP = {"RECORDINGS_CONTAINER_URL"}
NEVER_IN_AZURE = {"ACS_ACCESS_KEY", "ACS_CONNECTION_STRING", "TABLES_CONNECTION_STRING", "AzureWebJobsStorage"}


def test_every_setting_the_app_deploys_is_set(infra, app_settings_contract):
    deployed = {s.name for s in app_settings_contract if s.deployed}
    assert deployed, "shared/config.py declares no deployed setting"
    missing = deployed - set(infra.app_settings())
    assert not missing, f"infra does not set {sorted(missing)}, which shared/config.py marks deployed=True"


def test_every_setting_is_known_to_the_app_or_the_platform(infra, app_settings_contract):
    known = {s.name for s in app_settings_contract} | PLATFORM_SETTINGS | AHEAD_OF_THE_APP
    unknown = set(infra.app_settings()) - known
    assert not unknown, f"infra sets {sorted(unknown)}, which neither shared/config.py nor the host reads"


def test_no_key_or_connection_string_is_set(infra, app_settings_contract):
    settings = infra.app_settings()
    undeployed_secrets = {s.name for s in app_settings_contract if s.secret and not s.deployed}
    assert not (NEVER_IN_AZURE | undeployed_secrets) & set(settings)
    for name, value in settings.items():
        text = str(value).lower()
        assert "accountkey=" not in text and "accesskey=" not in text and "listkeys" not in text, name
    assert "listKeys" not in "".join(p.read_text() for p in infra.files.values())


def test_callback_jwt_verification_stays_on(infra):
    assert infra.app_settings().get("ACS_CALLBACK_VERIFY_JWT", "true") == "true"


def test_host_storage_is_identity_based(infra):
    settings = infra.app_settings()
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    params = infra.main.module("functionApp")["params"]
    assert render(params["identityClientId"]) == "identity.outputs.clientId"
    assert render(params["storageAccountName"]) == "storage.outputs.name"


def test_acs_settings_come_from_the_acs_resource(infra):
    settings = infra.app_settings()
    params = infra.main.module("functionApp")["params"]
    acs = infra["core/communication.bicep"].outputs
    assert settings["ACS_ENDPOINT"] == "acsEndpoint"
    assert render(params["acsEndpoint"]) == "communication.outputs.endpoint"
    assert acs["endpoint"]["value"] == "https://${acs.properties.hostName}"
    assert settings["ACS_RESOURCE_ID"] == "acsImmutableResourceId"
    assert render(params["acsImmutableResourceId"]) == "communication.outputs.immutableResourceId"
    assert render(acs["immutableResourceId"]["value"]) == "acs.properties.immutableResourceId"
    assert settings["ACS_CALLER_ID"] == "acsCallerId"
    assert params["acsCallerId"] == "acsCallerId"
    assert infra.main.params["acsCallerId"]["default"] == ""


def test_callback_base_url_is_the_apps_own_https_host(infra):
    assert infra.app_settings()["CALLBACK_BASE_URL"] == "https://${functionApp.properties.defaultHostName}"


def test_tables_endpoint_is_the_storage_accounts_table_endpoint(infra):
    assert infra.app_settings()["TABLES_ENDPOINT"] == "storageTableEndpoint"
    assert render(infra.main.module("functionApp")["params"]["storageTableEndpoint"]) == "storage.outputs.tableEndpoint"
    out = infra["core/storage.bicep"].outputs["tableEndpoint"]["value"]
    assert render(out) == "storage.properties.primaryEndpoints.table"


def test_callback_secret_is_a_key_vault_reference_to_a_secure_parameter(infra):
    assert infra.app_settings()["CALLBACK_SECRET"] == "@Microsoft.KeyVault(SecretUri=${callbackSecretUri})"
    assert render(infra.main.module("functionApp")["params"]["callbackSecretUri"]) == "keyVault.outputs.secretUri"
    decorators = infra.main.decorators("callbackSecret")
    assert "secure" in decorators and decorators["min_length"] == 32
    assert infra.main.module("keyVault")["params"]["secretValue"] == "callbackSecret"
    kv = infra["core/keyvault.bicep"]
    assert "secure" in kv.decorators("secretValue")
    assert kv.one("Microsoft.KeyVault/vaults/secrets")["properties"]["value"] == "secretValue"


def test_no_output_carries_a_secret(infra):
    for rel in infra.files:
        for name, output in infra[rel].outputs.items():
            text = str(output["value"])
            assert "callbackSecret" not in text and "secretValue" not in text, f"{rel}: output {name}"


def test_routing_rules_default_to_the_file_and_that_file_is_valid(infra):
    from infra_bicep import INFRA, ROOT
    import json
    import sys

    assert infra.app_settings()["ROUTING_RULES"] == "routingRules"
    assert infra.main.module("functionApp")["params"]["routingRules"] == "rules"
    assert "loadJsonContent('routing-rules.json')" in infra.main.path.read_text()
    document = json.loads((INFRA / "routing-rules.json").read_text())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from shared.domain.routing import parse_rules

    parse_rules(document)  # raises RulesError naming the field if the default rules are wrong


def test_recordings_container_url_is_the_private_recordings_container(infra):
    assert infra.app_settings()["RECORDINGS_CONTAINER_URL"] == "recordingsContainerUrl"
    assert render(infra.main.module("functionApp")["params"]["recordingsContainerUrl"]) == "storage.outputs.recordingsContainerUrl"
    storage = infra["core/storage.bicep"]
    out = storage.outputs["recordingsContainerUrl"]["value"]
    assert out == "${storage.properties.primaryEndpoints.blob}${recordingsContainer.name}"
    container = storage.resources["recordingsContainer"]["config"]
    assert container["parent"] == "blobService" and container["name"] == "recordingsContainerName"
    assert container["properties"]["publicAccess"] == "None"
    assert storage.params["recordingsContainerName"]["default"] == "recordings"
    assert storage.one("Microsoft.Storage/storageAccounts")["properties"]["allowBlobPublicAccess"] is False
