"""Telemetry set-up: the Azure Monitor distro only with APPLICATIONINSIGHTS_CONNECTION_STRING (in a fresh
interpreter, since OpenTelemetry's providers are process-wide), Entra ID from the authentication string."""

import json
import os
import subprocess
import sys
from pathlib import Path

from shared import telemetry

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
PROBE = """
import json, sys
import function_app
from shared import telemetry
from azure.core.settings import settings
on = telemetry._trace_api() is not None and telemetry._metrics_api() is not None
print(json.dumps({"on": on, "distro": "azure.monitor.opentelemetry" in sys.modules,
                  "sdk_tracing": str(settings.tracing_implementation())}))
"""


def probe(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS_")} | env
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_a_connection_string_the_app_exports_traces_and_metrics_and_the_sdks_spans():
    found = probe(APPLICATIONINSIGHTS_CONNECTION_STRING=OFFLINE)
    assert found["on"] and found["distro"] and "OpenTelemetrySpan" in found["sdk_tracing"]


def test_without_one_nothing_is_configured():
    found = probe()
    assert found == {"on": False, "distro": False, "sdk_tracing": "None"}


def test_entra_id_is_used_when_the_authentication_string_says_aad():
    assert telemetry._credential("") is None
    assert telemetry._credential("InstrumentationKey=x") is None
    credential = telemetry._credential("ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD")
    assert type(credential).__name__ == "ManagedIdentityCredential"
