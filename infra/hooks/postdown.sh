#!/bin/sh
# azd postdown hook: the resources are gone, so the next `azd up` must again provision without the
# IncomingCall subscription first (its function will not exist until the code is deployed).
set -eu
azd env set SUBSCRIBE_INCOMING_CALL false >/dev/null
echo "SUBSCRIBE_INCOMING_CALL reset to false for the next azd up."
