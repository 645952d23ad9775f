# azd postdown hook (Windows): see postdown.sh.
$ErrorActionPreference = 'Stop'
azd env set SUBSCRIBE_INCOMING_CALL false | Out-Null
Write-Host 'SUBSCRIBE_INCOMING_CALL reset to false for the next azd up.'
