"""Every resource in infra/**/*.bicep fits Azure's official Bicep type definitions (vendored in bicep-types/),
and the check catches what it claims to: each mutation below, made to a scratch copy of infra/, fails it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vendor_bicep_types
from bicep_typecheck import TYPES_DIR, Checker, Types
from infra_bicep import INFRA


@pytest.fixture(scope="module")
def types() -> Types:
    return Types()


def check(types: Types, directory: Path) -> tuple[Checker, list[str]]:
    checker = Checker(types)
    return checker, [str(p) for p in checker.check_paths([directory])]


def test_every_resource_fits_the_official_types(types):
    checker, problems = check(types, INFRA)
    assert not problems, "infra/ does not fit the official Bicep types:\n" + "\n".join(problems)


def test_the_check_walks_every_resource_declaration(types, infra):
    checker, _ = check(types, INFRA)
    # Counted from the text, independently of the parser the check uses.
    declared = sum(len(re.findall(r"^\s*resource \w+ '", p.read_text(), re.M)) for p in INFRA.rglob("*.bicep"))
    assert declared >= 20
    assert len(checker.resources_checked) == declared
    assert len(checker.resources_checked) == sum(len(infra[rel].resources) for rel in infra.files)


def test_every_type_used_is_vendored(types):
    for used in sorted(vendor_bicep_types.used_types()):
        name, version = used.split("@")
        assert types.lookup(name, version), f"{used} is not in tests/infra/bicep-types/: run vendor_bicep_types.py"


def test_vendored_types_are_the_trimmed_source():
    source = vendor_bicep_types.find_source()
    if source is None:
        pytest.skip("the bicep-types reference folder (../shared/bicep-types) is not beside this checkout")
    problems = vendor_bicep_types.differences(vendor_bicep_types.build(source), TYPES_DIR)
    assert not problems, "run .venv-infra/bin/python tests/infra/vendor_bicep_types.py:\n" + "\n".join(problems)


# (file, text to replace, replacement, what the reported problem must say)
MUTATIONS = [
    pytest.param("core/storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAcess: false",
                 "properties.allowSharedKeyAcess: not a property of", id="misspelt-property"),
    pytest.param("core/storage.bicep", "minimumTlsVersion: 'TLS1_2'", "minimumTlsversion: 'TLS1_2'",
                 "did you mean minimumTlsVersion?", id="property-in-the-wrong-case"),
    pytest.param("core/communication.bicep", "dataLocation: dataLocation\n",
                 "dataLocation: dataLocation\n    hostName: 'acs.example.com'\n",
                 "properties.hostName: read-only", id="read-only-property-set"),
    pytest.param("core/storage.bicep", "publicAccess: 'None'", "publicAccess: 'Private'",
                 "'Private' is not one of", id="value-outside-the-enum"),
    pytest.param("core/storage.bicep", "days: 7\n    }\n    containerDeleteRetentionPolicy",
                 "days: '7'\n    }\n    containerDeleteRetentionPolicy",
                 "deleteRetentionPolicy.days: expected an integer, got a string", id="string-for-an-integer"),
    pytest.param("app/function.bicep", "httpsOnly: true", "httpsOnly: 'true'",
                 "properties.httpsOnly: expected a bool, got a string", id="string-for-a-bool"),
    pytest.param("app/function.bicep", "reserved: true", "reserved: {\n      linux: true\n    }",
                 "properties.reserved: expected a bool, got a object", id="object-for-a-bool"),
    pytest.param("app/incoming-call-subscription.bicep", "endpointType: 'AzureFunction'",
                 "endpointType: 'AzureFunctions'", "did you mean AzureFunction?", id="unknown-discriminator"),
    pytest.param("app/incoming-call-subscription.bicep", "maxEventsPerBatch: 1", "maxEventsPerBatchSize: 1",
                 "destination.properties.maxEventsPerBatchSize: not a property of AzureFunctionEventSubscriptionDestinationProperties",
                 id="misspelt-property-of-a-discriminated-element"),
    pytest.param("core/monitoring.bicep", "retentionInDays: retentionInDays", "retentionInDays: 'thirty'",
                 "expected an integer, got a string", id="literal-of-the-wrong-kind"),
    pytest.param("app/function.bicep", "param instanceMemoryMB int = 2048", "param instanceMemoryMB string = '2048'",
                 "instanceMemoryMB: expected an integer, got a string", id="parameter-of-the-wrong-type"),
    pytest.param("core/keyvault.bicep", "'Microsoft.KeyVault/vaults@2023-07-01' = {",
                 "'Microsoft.KeyVault/vaults@2023-07-02' = {", "type@apiVersion not in the official Bicep types",
                 id="api-version-that-does-not-exist"),
    pytest.param("core/identity.bicep", "userAssignedIdentities@2023-01-31' = {\n  name: name\n",
                 "userAssignedIdentities@2023-01-31' = {\n", "name: required by", id="required-property-missing"),
    pytest.param("core/communication.bicep", "acs.properties.immutableResourceId", "acs.properties.immutableResourceID",
                 "did you mean immutableResourceId?", id="misspelt-property-read-in-an-output"),
    pytest.param("app/rbac.bicep", "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: storageAccountName\n",
                 "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: storageAccountName\n  kind: 'StorageV2'\n",
                 "an existing resource sets ['kind']", id="existing-resource-with-a-body"),
]


@pytest.mark.parametrize("rel, old, new, expected", MUTATIONS)
def test_a_mutated_copy_of_infra_fails_the_check(types, tmp_path, rel, old, new, expected):
    scratch = tmp_path / "infra"
    shutil.copytree(INFRA, scratch)
    target = scratch / rel
    text = target.read_text()
    assert text.count(old) == 1, f"the mutation no longer applies to {rel}: update it"
    target.write_text(text.replace(old, new))
    _, problems = check(types, scratch)
    assert any(expected in p and p.startswith(rel) for p in problems), (
        f"expected a problem in {rel} saying {expected!r}, got:\n" + "\n".join(problems))


def test_the_command_line_reports_a_misspelt_property_and_exits_1(tmp_path):
    scratch = tmp_path / "infra"
    shutil.copytree(INFRA, scratch)
    storage = scratch / "core" / "storage.bicep"
    storage.write_text(storage.read_text().replace("allowSharedKeyAccess: false", "allowSharedKeyAcess: false"))
    script = Path(__file__).with_name("bicep_typecheck.py")
    proc = subprocess.run([sys.executable, str(script), str(scratch)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "core/storage.bicep: storage (Microsoft.Storage/storageAccounts@2023-05-01): " \
           "properties.allowSharedKeyAcess: not a property of" in proc.stdout
    assert "(did you mean allowSharedKeyAccess?)" in proc.stdout
    clean = subprocess.run([sys.executable, str(script), str(INFRA)], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
