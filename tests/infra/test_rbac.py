"""rbac.bicep: every role of the app's identity, each built-in role named beside its GUID."""

from __future__ import annotations

import re

from infra_bicep import render

RBAC = "app/rbac.bicep"

# Built-in role definition ids (the same in every tenant).
EXPECTED = {
    "storageBlobDataOwner": ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "storage"),
    "storageTableDataContributor": ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "storage"),
    # Contributor, scoped to the ACS resource: the role ACS's Entra ID docs grant (ACS honours no custom
    # role; "Communication and Email Service Owner" is not among the built-in roles the current docs list).
    "contributor": ("b24988ac-6180-42a0-ab88-20f7382dd24c", "acs"),
    "monitoringMetricsPublisher": ("3913510d-42f4-4e42-8a64-420c390055eb", "applicationInsights"),
    "keyVaultSecretsUser": ("4633458b-17de-408a-b874-0445c86b69e6", "callbackSecret"),
}


def assignments(infra):
    return infra[RBAC].resources_of("Microsoft.Authorization/roleAssignments")


def role_of(assignment) -> str:
    ref = assignment["config"]["properties"]["roleDefinitionId"]["function"]
    assert ref["type"] == "subscription_resource_id"
    assert ref["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    key = render(ref["parameters"]["resource_name_1"])
    assert key.startswith("roles."), key
    return key.removeprefix("roles.")


def test_each_role_is_named_beside_its_guid(infra):
    assert infra[RBAC].variables["roles"]["value"] == {name: guid for name, (guid, _) in EXPECTED.items()}
    text = (infra[RBAC].path).read_text()
    for name, (guid, _) in EXPECTED.items():
        line = next(line for line in text.splitlines() if guid in line)
        assert line.strip().startswith(f"{name}:"), line
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
        comment = text[: text.index(line)].splitlines()[-1].lower()
        assert comment.lstrip().startswith("//"), f"no comment naming the role above {name}"
        first_word = words.split()[0]
        assert first_word in comment, f"the comment above {name} does not name the role: {comment}"


def test_every_role_is_assigned_once_at_its_scope(infra):
    found = {}
    for assignment in assignments(infra).values():
        role = role_of(assignment)
        assert role not in found, f"{role} is assigned twice"
        found[role] = assignment["config"]["scope"]
    assert found == {name: scope for name, (_, scope) in EXPECTED.items()}


def test_assignments_go_to_the_apps_identity_as_a_service_principal(infra):
    for name, assignment in assignments(infra).items():
        props = assignment["config"]["properties"]
        assert props["principalId"] == "principalId", name
        assert props["principalType"] == "ServicePrincipal", name
        guid_args = assignment["config"]["name"]["function"]
        assert guid_args["type"] == "guid", f"{name}: the assignment name must be a deterministic guid()"
    assert render(infra.main.module("rbac")["params"]["principalId"]) == "identity.outputs.principalId"


def test_scopes_are_the_deployed_resources(infra):
    rbac = infra[RBAC]
    existing = {n: r for n, r in rbac.resources.items() if r["existing"]}
    assert {n: r["type"] for n, r in existing.items()} == {
        "storage": "Microsoft.Storage/storageAccounts",
        "applicationInsights": "Microsoft.Insights/components",
        "acs": "Microsoft.Communication/communicationServices",
        "vault": "Microsoft.KeyVault/vaults",
        "callbackSecret": "Microsoft.KeyVault/vaults/secrets",
    }
    params = infra.main.module("rbac")["params"]
    assert render(params["storageAccountName"]) == "storage.outputs.name"
    assert render(params["communicationServiceName"]) == "communication.outputs.name"
    assert render(params["applicationInsightsName"]) == "monitoring.outputs.applicationInsightsName"
    assert render(params["keyVaultName"]) == "keyVault.outputs.name"


def test_the_app_starts_only_after_its_roles_exist(infra):
    assert "rbac" in infra.main.module("functionApp")["dependsOn"]


def test_no_role_is_assigned_outside_rbac_bicep(infra):
    for rel in infra.files:
        if rel != RBAC:
            assert not infra[rel].resources_of("Microsoft.Authorization/roleAssignments"), rel


def test_contributor_is_granted_on_the_acs_resource_only(infra):
    """The broadest role here: its scope is the one ACS resource, never the group or subscription."""
    rbac = infra[RBAC]
    contributor = [a for a in assignments(infra).values() if role_of(a) == "contributor"]
    assert len(contributor) == 1
    assert contributor[0]["config"]["scope"] == "acs"
    assert rbac.resources["acs"]["existing"] is True
    assert rbac.resources["acs"]["type"] == "Microsoft.Communication/communicationServices"
