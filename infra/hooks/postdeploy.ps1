# azd postdeploy hook (Windows): subscribe the incoming_call function to IncomingCall events.
# See postdeploy.sh: the subscription can only be created once the function is deployed.
$ErrorActionPreference = 'Stop'
if ($env:SUBSCRIBE_INCOMING_CALL -eq 'true') {
    Write-Host "The IncomingCall subscription is already part of this environment's deployment."
    exit 0
}
azd env set SUBSCRIBE_INCOMING_CALL true | Out-Null
for ($attempt = 1; $attempt -le 3; $attempt++) {
    azd provision --no-prompt
    if ($LASTEXITCODE -eq 0) {
        Write-Host 'IncomingCall events of the ACS resource now go to the incoming_call function.'
        exit 0
    }
    if ($attempt -lt 3) {
        Write-Host "Retrying in 30 s (attempt $($attempt + 1) of 3)..."
        Start-Sleep -Seconds 30
    }
}
Write-Error "Could not create the IncomingCall subscription. Check that incoming_call is listed under the Function App's functions, then run 'azd provision' again (see README.md, Deploy to Azure, troubleshooting)."
exit 1
