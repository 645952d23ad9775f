"""Storage, monitoring, Key Vault and identity: identity-only access, local auth off."""

from __future__ import annotations

from infra_bicep import render


def test_storage_allows_entra_id_only(infra):
    account = infra["core/storage.bicep"].one("Microsoft.Storage/storageAccounts")
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_application_insights_is_workspace_based_with_local_auth_off(infra):
    monitoring = infra["core/monitoring.bicep"]
    appi = monitoring.one("Microsoft.Insights/components")
    assert appi["properties"]["DisableLocalAuth"] is True
    assert render(appi["properties"]["WorkspaceResourceId"]) == "logAnalytics.id"
    assert monitoring.one("Microsoft.OperationalInsights/workspaces")


def test_log_analytics_allows_entra_id_only(infra):
    workspace = infra["core/monitoring.bicep"].one("Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["features"]["disableLocalAuth"] is True


def test_acs_allows_entra_id_only_on_an_api_version_that_has_the_switch(infra, bicep_types):
    resources = infra["core/communication.bicep"].resources
    acs = infra["core/communication.bicep"].one("Microsoft.Communication/communicationServices")
    assert acs["properties"]["disableLocalAuth"] is True
    version = resources["acs"]["api_version"]
    # The property exists on that version (the type check also refuses a property the version lacks).
    body = bicep_types.body("Microsoft.Communication/communicationServices", version)
    assert "disableLocalAuth" in body["properties"]
    # Every reference to the ACS resource uses that same version.
    for rel in infra.files:
        for name, res in infra[rel].resources.items():
            if res["type"] == "Microsoft.Communication/communicationServices":
                assert res["api_version"] == version, f"{rel}: {name}"


def test_key_vault_uses_rbac_and_soft_delete(infra):
    vault = infra["core/keyvault.bicep"].one("Microsoft.KeyVault/vaults")
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert vault["properties"]["enableSoftDelete"] is True


def test_one_user_assigned_identity(infra):
    identities = [
        (rel, name)
        for rel in infra.files
        for name in infra[rel].resources_of("Microsoft.ManagedIdentity/userAssignedIdentities")
    ]
    assert identities == [("core/identity.bicep", "identity")]
