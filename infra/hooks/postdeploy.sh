#!/bin/sh
# azd postdeploy hook: subscribe the incoming_call function to IncomingCall events.
# Azure refuses an Event Grid subscription whose destination function does not exist yet, so the first
# `azd provision` leaves it out (SUBSCRIBE_INCOMING_CALL=false). Once azd has deployed the code, this hook
# sets SUBSCRIBE_INCOMING_CALL=true and provisions again; from then on every provision keeps the subscription.
set -eu
if [ "${SUBSCRIBE_INCOMING_CALL:-false}" = "true" ]; then
  echo "The IncomingCall subscription is already part of this environment's deployment."
  exit 0
fi
azd env set SUBSCRIBE_INCOMING_CALL true >/dev/null
attempt=1
# The host may take a little while to index the freshly deployed functions: retry a few times.
until azd provision --no-prompt; do
  if [ "$attempt" -ge 3 ]; then
    echo "Could not create the IncomingCall subscription. Check that incoming_call is listed under the" >&2
    echo "Function App's functions, then run 'azd provision' again (see README.md, Deploy to Azure, troubleshooting)." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "Retrying in 30 s (attempt $attempt of 3)..."
  sleep 30
done
echo "IncomingCall events of the ACS resource now go to the incoming_call function."
