# azd predeploy hook (Windows): refuse to deploy a routing ruleset that the app would refuse at load.
# See predeploy.sh: the check is the app's own loader (python -m devtools.rules check).
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path $PSScriptRoot '../..')
$python = 'python'
if (Test-Path '.venv/Scripts/python.exe') { $python = '.venv/Scripts/python.exe' }
& $python -m devtools.rules check infra/routing-rules.json
if ($LASTEXITCODE -ne 0) {
    Write-Error "infra/routing-rules.json is not a valid ruleset (see above): fix it, then run azd again. Try a change first with: python -m devtools.rules check FILE"
    exit 1
}
