#!/bin/sh
# azd predeploy hook: refuse to deploy a routing ruleset that the app would refuse at load.
# infra/routing-rules.json becomes the app's ROUTING_RULES setting; a bad one would only show when the first
# call fails. The check is the app's own loader (python -m devtools.rules check, standard library only).
# preprovision runs the same check, since provisioning is what writes the setting.
set -eu
cd "$(dirname "$0")/../.."
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
if ! "$python" -m devtools.rules check infra/routing-rules.json; then
  echo "infra/routing-rules.json is not a valid ruleset (see above): fix it, then run azd again." >&2
  echo "Try a change first with ./dev rules check FILE and ./dev rules simulate FILE --from N --to N." >&2
  exit 1
fi
