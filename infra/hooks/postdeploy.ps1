# azd postdeploy hook (Windows): subscribe the app's Event Grid functions (incoming_call, recording_file_status)
# to the ACS resource's events. See postdeploy.sh: a subscription can only be created once its function is deployed.
$ErrorActionPreference = 'Stop'
if ($env:SUBSCRIBE_INCOMING_CALL -eq 'true') {
    Write-Host "The Event Grid subscriptions are already part of this environment's deployment."
    exit 0
}
azd env set SUBSCRIBE_INCOMING_CALL true | Out-Null
for ($attempt = 1; $attempt -le 3; $attempt++) {
    azd provision --no-prompt
    if ($LASTEXITCODE -eq 0) {
        Write-Host 'IncomingCall events of the ACS resource now go to incoming_call, RecordingFileStatusUpdated to recording_file_status.'
        exit 0
    }
    if ($attempt -lt 3) {
        Write-Host "Retrying in 30 s (attempt $($attempt + 1) of 3)..."
        Start-Sleep -Seconds 30
    }
}
Write-Error "Could not create the Event Grid subscriptions. Check that incoming_call and recording_file_status are listed under the Function App's functions, then run 'azd provision' again (see README.md, Deploy to Azure, troubleshooting)."
exit 1
