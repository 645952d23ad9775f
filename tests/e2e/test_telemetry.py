"""Traces and metrics from real invocations through the registered functions (the local host, the SDKs over HTTP to
the emulator and Azurite), read with the OpenTelemetry SDK's in-memory exporters. The test configures the SDK's
providers, as a host or the Azure Monitor distro would; the app itself only uses the OpenTelemetry API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from tests.e2e.conftest import ring_agent

pytestmark = pytest.mark.e2e


class Switchable(SimpleSpanProcessor):
    """Exports only while a test of this module runs (the providers stay set for the rest of the process)."""

    on = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            super().on_end(span)


_SDK: dict[str, Any] = {}


def sdk() -> dict[str, Any]:
    """The process's OpenTelemetry SDK providers with in-memory exporters, set up once (providers are global)."""
    if not _SDK:
        exporter = InMemorySpanExporter()
        processor = Switchable(exporter)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _SDK.update(exporter=exporter, processor=processor, reader=reader)
    return _SDK


@pytest.fixture
def otel():
    state = sdk()
    state["exporter"].clear()
    state["processor"].on = True
    yield state
    state["processor"].on = False
    state["exporter"].clear()


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], Any]]:
    data = reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found += [(dict(p.attributes), p) for p in metric.data.data_points]
    return found


def total(reader: InMemoryMetricReader, name: str, **attributes: Any) -> float:
    """A counter's value (or a histogram's count) over the points whose attributes include `attributes`."""
    value = 0
    for attrs, point in points(reader, name):
        if all(attrs.get(k) == v for k, v in attributes.items()):
            value += point.count if hasattr(point, "count") else point.value
    return value


def invocations(exporter: InMemorySpanExporter, function: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == f"callsteer {function}"]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id]


def descendants(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    found, frontier = [], [parent]
    while frontier:
        nxt = [c for p in frontier for c in children(exporter, p)]
        found += nxt
        frontier = nxt
    return found


def no_personal_data(spans: list[ReadableSpan], secrets: list[str]) -> None:
    for span in spans:
        for key, value in (span.attributes or {}).items():
            text = json.dumps(value) if not isinstance(value, str) else value
            for secret in secrets:
                assert secret not in text, f"span {span.name!r} attribute {key} holds {secret[:12]}..."
        assert span.attributes is None or set(k for k in span.attributes if k.startswith("callsteer.")) <= set(
            telemetry.ATTRIBUTES), span.attributes


async def test_an_incoming_call_is_one_span_with_its_ids_and_decision_and_acs_and_table_as_child_spans(stack, otel):
    before = total(otel["reader"], "callsteer.calls", rule="support", action="answer", outcome="ok")
    event = await stack.ring(from_="+14255550701", to="+18005550100")
    call = await stack.call_for(event)
    correlation = event["data"]["correlationId"]
    [span] = [s for s in invocations(otel["exporter"], "incoming_call")
              if s.attributes.get("callsteer.correlation_id") == correlation]
    assert span.kind is trace.SpanKind.SERVER and span.parent is None
    assert span.attributes["callsteer.rule"] == "support" and span.attributes["callsteer.action"] == "answer"
    assert span.attributes["callsteer.call_connection_id"] == call["callConnectionId"]
    inner = descendants(otel["exporter"], span)
    names = " ".join(s.name for s in inner)
    # The Azure SDKs' own spans: the Call Automation answer request, then the Table Storage insert.
    assert any(s.kind is trace.SpanKind.CLIENT and "callConnections:answer" in str(s.attributes.get("url.full", ""))
               for s in inner), names
    assert any(s.kind is trace.SpanKind.CLIENT and "/calls" in str(s.attributes.get("url.full", ""))
               for s in inner), names
    assert total(otel["reader"], "callsteer.calls", rule="support", action="answer", outcome="ok") == before + 1

    # Its callbacks are spans of their own, findable by the same correlation id, with their event types.
    cb = [s for s in invocations(otel["exporter"], "callbacks")
          if s.attributes.get("callsteer.correlation_id") == correlation]
    assert cb, [s.attributes for s in invocations(otel["exporter"], "callbacks")]
    types = {t for s in cb for t in s.attributes.get("callsteer.event_type", ())}
    assert {"CallConnected", "ParticipantsUpdated"} <= types
    assert all(s.attributes["callsteer.call_connection_id"] == call["callConnectionId"] for s in cb)
    assert all(s.attributes.get("http.response.status_code") == 200 for s in cb)
    no_personal_data(otel["exporter"].get_finished_spans(),
                     ["+14255550701", "14255550701", event["data"]["incomingCallContext"], stack.secret])


async def test_rejected_and_redirected_calls_are_counted_by_rule_action_and_outcome(stack, otel):
    reader = otel["reader"]
    rejected = total(reader, "callsteer.calls", rule="busy-line", action="reject", outcome="ok")
    redirected = total(reader, "callsteer.calls", rule="overflow", action="redirect", outcome="ok")
    event = await stack.ring(from_="+14255550702", to="+18005550102")
    await stack.ring(from_="+14255550703", to="+18005550177")
    assert total(reader, "callsteer.calls", rule="busy-line", action="reject", outcome="ok") == rejected + 1
    assert total(reader, "callsteer.calls", rule="overflow", action="redirect", outcome="ok") == redirected + 1
    [span] = [s for s in invocations(otel["exporter"], "incoming_call")
              if s.attributes.get("callsteer.correlation_id") == event["data"]["correlationId"]]
    assert span.attributes["callsteer.action"] == "reject"
    assert "callsteer.call_connection_id" not in span.attributes  # a rejected call never had a connection
    no_personal_data(otel["exporter"].get_finished_spans(), ["+14255550702", "+14255550703", "+18005550199"])


async def test_callback_events_are_counted_applied_duplicate_and_unauthorized(stack, otel):
    reader = otel["reader"]
    event = await stack.ring(from_="+14255550704", to="+18005550100")
    call = await stack.call_for(event)
    applied = total(reader, "callsteer.callbacks", event_type="ParticipantsUpdated", outcome="applied")
    duplicate = total(reader, "callsteer.callbacks", event_type="ParticipantsUpdated", outcome="duplicate")
    unauthorized = total(reader, "callsteer.callbacks", outcome="unauthorized")
    [record] = [r for r in stack.emulator.callbacks if r["call_connection_id"] == call["callConnectionId"]
                and r["event"]["type"].endswith("ParticipantsUpdated")][:1]
    status, _ = await stack.post(record["url"], [record["event"]])  # ACS repeats an event
    assert status == 200
    assert total(reader, "callsteer.callbacks", event_type="ParticipantsUpdated", outcome="duplicate") == duplicate + 1
    assert total(reader, "callsteer.callbacks", event_type="ParticipantsUpdated", outcome="applied") == applied
    status, _ = await stack.post(record["url"], [record["event"]], headers={"Authorization": "Bearer nope"})
    assert status == 401
    assert total(reader, "callsteer.callbacks", outcome="unauthorized") == unauthorized + 1
    refused = [s for s in invocations(otel["exporter"], "callbacks")
               if s.attributes.get("http.response.status_code") == 401]
    assert refused and all("callsteer.call_connection_id" not in s.attributes for s in refused)
    no_personal_data(otel["exporter"].get_finished_spans(), ["+14255550704", "Bearer nope", stack.secret,
                                                             record["url"].rsplit("/", 1)[-1]])


async def test_a_ring_group_answered_records_its_answer_time_and_an_unanswered_one_is_counted(stack, otel):
    reader = otel["reader"]
    answered = total(reader, "callsteer.ring.answer_seconds", rule="ring-all")
    unanswered = total(reader, "callsteer.ring.unanswered", rule="ring-then-hang-up")
    stack.emulator.script_target(ring_agent(1), "answer")
    stack.emulator.script_target(ring_agent(2), "no-answer")
    stack.emulator.script_target("+14255550111", "no-answer")
    await stack.ring(from_="+14255550705", to="+18005550120")
    for _ in range(20):
        await stack.emulator.idle()
        if total(reader, "callsteer.ring.answer_seconds", rule="ring-all") > answered:
            break
    assert total(reader, "callsteer.ring.answer_seconds", rule="ring-all") == answered + 1
    [(_, point)] = [(a, p) for a, p in points(reader, "callsteer.ring.answer_seconds") if a.get("rule") == "ring-all"]
    assert point.min >= 0 and point.max < 60

    stack.emulator.script_target(ring_agent(7), "decline")
    await stack.ring(from_="+14255550706", to="+18005550123")
    for _ in range(20):
        await stack.emulator.idle()
        if total(reader, "callsteer.ring.unanswered", rule="ring-then-hang-up") > unanswered:
            break
    assert total(reader, "callsteer.ring.unanswered", rule="ring-then-hang-up") == unanswered + 1
    no_personal_data(otel["exporter"].get_finished_spans(), ["+14255550705", "+14255550706", "14255550111"])


async def test_the_control_api_and_simulate_are_spans_too(stack, otel):
    event = await stack.ring(from_="+14255550707", to="+18005550100")
    call = await stack.call_for(event)
    status, _ = await stack.post(f"{stack.url}/api/calls/{call['callConnectionId']}/hangup", {"forEveryone": True})
    assert status == 202
    [hang] = invocations(otel["exporter"], "hang_up")
    assert hang.attributes["callsteer.call_connection_id"] == call["callConnectionId"]
    assert hang.attributes["callsteer.correlation_id"] == event["data"]["correlationId"]
    assert hang.attributes["http.response.status_code"] == 202
    assert any("hangup" in s.name.lower() or ":terminate" in str(s.attributes.get("url.full", ""))
               or "DELETE" in s.name for s in descendants(otel["exporter"], hang))
    status, _ = await stack.post(f"{stack.url}/api/rules:simulate", {"from": "+14255550707", "to": "+18005550100"})
    assert status == 200
    [sim] = invocations(otel["exporter"], "simulate_rules")
    assert sim.attributes["http.response.status_code"] == 200 and not descendants(otel["exporter"], sim)
    no_personal_data(otel["exporter"].get_finished_spans(), ["+14255550707", "14255550707"])


def test_without_a_configured_sdk_the_app_never_imports_opentelemetry():
    import subprocess
    import sys

    code = ("import sys, function_app; from shared import telemetry; telemetry.annotate(rule='x'); "
            "telemetry.count_call('r', 'answer', 'ok'); "
            "print(any(m.startswith(('opentelemetry', 'azure.monitor')) for m in sys.modules))")
    env = {k: v for k, v in __import__("os").environ.items() if k != telemetry.CONNECTION_STRING}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_invocation_decorator_keeps_the_triggers_signatures():
    import inspect

    import function_app
    from devtools.host import discover

    http, eventgrid = discover(function_app.app)
    assert list(inspect.signature(eventgrid["incoming_call"].call).parameters) == ["event"]
    for function in http:
        assert list(inspect.signature(function.call).parameters) == ["req"], function.name
        assert function.call.__wrapped__.__name__ == function.name
    assert inspect.iscoroutinefunction(next(f.call for f in http if f.name == "callbacks"))
