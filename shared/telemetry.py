"""Telemetry: traces and metrics through the OpenTelemetry API, exported to Application Insights.

The app only uses the OpenTelemetry API (a tracer and a meter named `callsteer`); whoever configures the process's
OpenTelemetry SDK decides where it goes:

- With `APPLICATIONINSIGHTS_CONNECTION_STRING` set (the Bicep sets it), `configure()` sets the SDK up once with the
  Azure Monitor distro (`azure-monitor-opentelemetry`, imported only then), authenticated with the app's managed
  identity when `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `Authorization=AAD`.
- Any other SDK set up in the process (a test's in-memory exporters, a host that configures OpenTelemetry) is
  used the same way.
- Without either, nothing is recorded and the OpenTelemetry API is never imported: no cold-start cost.

Each invocation of a function decorated with `invocation` is a span (`callsteer <function>`); the Azure SDKs'
requests (ACS, Table Storage) become its child spans through azure-core's OpenTelemetry plugin. Attributes are
the call's ids, rule, action and callback event types, never a phone number, token or incoming call context.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
from typing import Any, Callable, Mapping

log = logging.getLogger("callsteer")
NAME = "callsteer"
CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
# The only attributes the app sets on its spans: ids, rule names and event types, nothing personal.
ATTRIBUTES = ("callsteer.correlation_id", "callsteer.call_connection_id", "callsteer.rule", "callsteer.action",
              "callsteer.event_type", "callsteer.function", "callsteer.outcome", "http.response.status_code")
# The distro's instrumentations of libraries the app does not serve requests with (the Azure SDK one stays).
_UNUSED_INSTRUMENTATIONS = ("django", "fastapi", "flask", "psycopg2", "requests", "urllib", "urllib3", "httpx")

_configured = False
_sdk_tracing_on = False
_instruments: dict[str, Any] = {}


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Set up the Azure Monitor exporter once when APPLICATIONINSIGHTS_CONNECTION_STRING is set; True if it is."""
    global _configured
    env = os.environ if env is None else env
    connection_string = env.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return False
    if _configured:
        return True
    _configured = True
    try:
        _configure_azure_monitor(connection_string, env)
    except Exception as exc:  # noqa: BLE001 - telemetry must never keep the app from answering calls
        log.error("telemetry: Application Insights export is off: %s", type(exc).__name__)
        return False
    return True


def _configure_azure_monitor(connection_string: str, env: Mapping[str, str]) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {
        "connection_string": connection_string,
        # The Functions host already sends the app's logs to Application Insights: traces and metrics only.
        "disable_logging": True,
        # Process CPU and memory counters: the Functions platform reports them; psutil polling costs start-up time.
        "enable_performance_counters": False,
        "instrumentation_options": {name: {"enabled": False} for name in _UNUSED_INSTRUMENTATIONS},
    }
    credential = _credential(env.get(AUTHENTICATION_STRING, ""))
    if credential is not None:
        options["credential"] = credential
    configure_azure_monitor(**options)
    log.info("telemetry: traces and metrics go to Application Insights%s",
             " (Entra ID)" if credential is not None else "")


def _credential(authentication: str) -> Any:
    """The managed identity named by `ClientId=...;Authorization=AAD` (local auth is off on Application Insights)."""
    parts = dict(p.split("=", 1) for p in authentication.split(";") if "=" in p)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    client_id = parts.get("ClientId") or None
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def _trace_api() -> Any | None:
    """The OpenTelemetry trace API when an SDK tracer provider is set in this process, else None."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None or isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    _azure_sdk_spans()
    return trace


def _metrics_api() -> Any | None:
    metrics = sys.modules.get("opentelemetry.metrics")
    if metrics is None:
        return None
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return None if isinstance(metrics.get_meter_provider(), _ProxyMeterProvider) else metrics


def _azure_sdk_spans() -> None:
    """Let the Azure SDKs (ACS, Table Storage) record their requests as child spans of the current one."""
    global _sdk_tracing_on
    if not _sdk_tracing_on:
        _sdk_tracing_on = True
        from azure.core.settings import settings

        if settings.tracing_implementation() is None:
            settings.tracing_implementation = "opentelemetry"


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None and v != "" and v != ()}


# ---- spans ---------------------------------------------------------------------------------------------------


def invocation(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a trigger: each invocation is a span named after it, with the HTTP status where there is one.

    The signature is kept (functools.wraps), so the Functions host binds the same parameters."""
    name = function.__name__

    def finish(span: Any, trace: Any, result: Any) -> None:
        status = getattr(result, "status_code", None)
        if isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR, f"HTTP {status}"))

    def failed(span: Any, trace: Any, exc: BaseException) -> None:
        # The exception's type only: messages may quote input from the wire.
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))

    def start(trace: Any) -> Any:
        return trace.get_tracer(NAME).start_as_current_span(
            f"{NAME} {name}", kind=trace.SpanKind.SERVER, attributes={"callsteer.function": name},
            record_exception=False, set_status_on_exception=False)

    if inspect.iscoroutinefunction(function):
        @functools.wraps(function)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            trace = _trace_api()
            if trace is None:
                return await function(*args, **kwargs)
            with start(trace) as span:
                try:
                    result = await function(*args, **kwargs)
                except BaseException as exc:
                    failed(span, trace, exc)
                    raise
                finish(span, trace, result)
                return result
        return traced_async

    @functools.wraps(function)
    def traced(*args: Any, **kwargs: Any) -> Any:
        trace = _trace_api()
        if trace is None:
            return function(*args, **kwargs)
        with start(trace) as span:
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                failed(span, trace, exc)
                raise
            finish(span, trace, result)
            return result
    return traced


def annotate(**attributes: Any) -> None:
    """Set `callsteer.<name>` attributes on the current span (None values are skipped)."""
    trace = _trace_api()
    if trace is None:
        return
    span = trace.get_current_span()
    for key, value in _clean(attributes).items():
        span.set_attribute(f"callsteer.{key}", list(value) if isinstance(value, (tuple, list)) else value)


def annotate_call(call: Any) -> None:
    """The call's ids and its routing decision on the current span (no phone number: ids and names only)."""
    decision = call.decision or {}
    annotate(correlation_id=call.correlation_id, call_connection_id=call.call_connection_id,
             rule=decision.get("rule"), action=decision.get("action"))


# ---- metrics -------------------------------------------------------------------------------------------------


def _instrument(kind: str, name: str, unit: str, description: str) -> Any | None:
    metrics = _metrics_api()
    if metrics is None:
        return None
    instrument = _instruments.get(name)
    if instrument is None:
        meter = metrics.get_meter(NAME)
        create = meter.create_histogram if kind == "histogram" else meter.create_counter
        instrument = _instruments[name] = create(name, unit=unit, description=description)
    return instrument


def count_call(rule: str, action: str, outcome: str) -> None:
    """An incoming call decided: outcome `ok` (ACS took the action), `failed` (refused, recorded) or `retry`."""
    counter = _instrument("counter", "callsteer.calls", "{call}", "incoming calls decided, by rule, action, outcome")
    if counter is not None:
        counter.add(1, {"rule": rule, "action": action, "outcome": outcome})


def count_callback(event_type: str, outcome: str, n: int = 1) -> None:
    """Callback events: outcome `applied`, `duplicate` or `unauthorized`."""
    counter = _instrument("counter", "callsteer.callbacks", "{event}", "callback events, by event type and outcome")
    if counter is not None and n:
        counter.add(n, {"event_type": event_type, "outcome": outcome})


def ring_answered(rule: str, seconds: float) -> None:
    histogram = _instrument("histogram", "callsteer.ring.answer_seconds", "s",
                            "ring groups: time from the first invitation to the agent answering")
    if histogram is not None:
        histogram.record(seconds, {"rule": rule})


def ring_unanswered(rule: str) -> None:
    counter = _instrument("counter", "callsteer.ring.unanswered", "{ring}",
                          "ring groups nobody answered (or the caller left first)")
    if counter is not None:
        counter.add(1, {"rule": rule})
