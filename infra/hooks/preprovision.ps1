# azd preprovision hook (Windows): make sure this azd environment has a CALLBACK_SECRET.
# Generated once and kept in the azd environment, so provisioning again does not rotate it.
$ErrorActionPreference = 'Stop'
# Provisioning writes infra/routing-rules.json into the app's ROUTING_RULES: refuse a bad ruleset first.
& (Join-Path $PSScriptRoot 'predeploy.ps1')
if ($LASTEXITCODE -ne 0) { exit 1 }
if ($env:CALLBACK_SECRET) {
    Write-Host 'CALLBACK_SECRET is set for this environment.'
    exit 0
}
$bytes = [byte[]]::new(48)
[System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
$secret = [Convert]::ToBase64String($bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
azd env set CALLBACK_SECRET $secret | Out-Null
Write-Host 'Generated CALLBACK_SECRET for this environment (it is stored in Key Vault by the deployment).'
