#!/bin/sh
# azd preprovision hook: make sure this azd environment has a CALLBACK_SECRET.
# It is generated once and kept in the environment (.azure/<env>/.env, git-ignored), so provisioning
# again does not rotate it and calls in progress keep valid callback tokens. Bicep stores it in Key Vault.
set -eu
# Provisioning writes infra/routing-rules.json into the app's ROUTING_RULES: refuse a bad ruleset first.
sh "$(dirname "$0")/predeploy.sh"
if [ -n "${CALLBACK_SECRET:-}" ]; then
  echo "CALLBACK_SECRET is set for this environment."
  exit 0
fi
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))' 2>/dev/null \
  || openssl rand -base64 48 | tr -d '\n/+=')
azd env set CALLBACK_SECRET "$secret" >/dev/null
echo "Generated CALLBACK_SECRET for this environment (it is stored in Key Vault by the deployment)."
