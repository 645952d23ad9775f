#!/bin/sh
# azd postdeploy hook: subscribe the app's Event Grid functions to the ACS resource's events (incoming_call
# to IncomingCall, recording_file_status to RecordingFileStatusUpdated).
# Azure refuses an Event Grid subscription whose destination function does not exist yet, so the first
# `azd provision` leaves them out (SUBSCRIBE_INCOMING_CALL=false). Once azd has deployed the code, this hook
# sets SUBSCRIBE_INCOMING_CALL=true and provisions again; from then on every provision keeps the subscriptions.
set -eu
if [ "${SUBSCRIBE_INCOMING_CALL:-false}" = "true" ]; then
  echo "The Event Grid subscriptions are already part of this environment's deployment."
  exit 0
fi
azd env set SUBSCRIBE_INCOMING_CALL true >/dev/null
attempt=1
# The host may take a little while to index the freshly deployed functions: up to three attempts.
until azd provision --no-prompt; do
  if [ "$attempt" -ge 3 ]; then
    echo "Could not create the Event Grid subscriptions. Check that incoming_call and recording_file_status are" >&2
    echo "listed under the Function App's functions, then run 'azd provision' again (see README.md, Deploy to Azure, troubleshooting)." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "Retrying in 30 s (attempt $attempt of 3)..."
  sleep 30
done
echo "IncomingCall events of the ACS resource now go to incoming_call, RecordingFileStatusUpdated to recording_file_status."
