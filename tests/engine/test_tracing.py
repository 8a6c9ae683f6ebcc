"""OpenTelemetry: each finished execution is exported once as a span tree (execution,
branches, loop items, node runs) carrying the product's trace ids; the `http` node sends
a W3C `traceparent` naming its node run's span; a webhook's `traceparent` becomes the
execution's parent. Checked with the SDK's in-memory exporter and over real OTLP/HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework.test import APIClient

from engine import tracing
from engine.core.tracecontext import node_run_span_id, parse_traceparent
from engine.models import NodeRun
from tests.engine.runs import START, definition, loop_definition, run
from tests.http_server import QuietHandler, serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.set_exporter(memory)
    yield memory
    tracing.reset_exporter()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _tree(exported: Any) -> dict[str, Any]:
    by_id = {_hex(s.context.span_id, 16): s for s in exported}
    return by_id


def test_a_fan_out_exports_one_tree_with_branch_trace_ids(alice, spans):
    d = definition([START] + [{"id": n, "type": "delay", "config": {"duration": 50}} for n in "ab"]
                   + [{"id": "m", "type": "merge"}, {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
                   [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m"), ("m", "o")])
    ex = run(alice, d, {"k": 1})
    assert tracing.export_finished() == 1
    assert tracing.export_finished() == 0  # once
    exported = spans.get_finished_spans()
    by_id = _tree(exported)
    roots = [s for s in exported if s.parent is None]
    assert len(roots) == 1 and roots[0].attributes["flowmaestro.trace_id"] == ex.trace_id
    assert roots[0].attributes["flowmaestro.execution.id"] == ex.pk
    assert {s.context.trace_id for s in exported} == {roots[0].context.trace_id}
    for s in exported:  # every parent is in the tree
        assert s.parent is None or _hex(s.parent.span_id, 16) in by_id
    branches = sorted(s.attributes["flowmaestro.trace_id"] for s in exported if s.name.startswith("branch "))
    assert branches == [f"{ex.trace_id}-001", f"{ex.trace_id}-002"]
    delay_a = next(s for s in exported if s.attributes.get("flowmaestro.node.id") == "a")
    assert by_id[_hex(delay_a.parent.span_id, 16)].name.startswith("branch ")
    assert len([s for s in exported if "flowmaestro.node.id" in s.attributes]) == NodeRun.objects.filter(execution=ex).count()
    assert delay_a.end_time - delay_a.start_time >= 40_000_000  # the 50 ms delay, in ns


def test_loop_items_hang_under_their_loop_node_run(alice, spans):
    d = loop_definition({"maxConcurrency": 3}, [{"id": "w", "type": "delay", "config": {"duration": 20}}])
    ex = run(alice, d, {"items": [1, 2, 3]})
    assert ex.status == "succeeded", ex.error
    tracing.export_finished()
    exported = spans.get_finished_spans()
    by_id = _tree(exported)
    items = [s for s in exported if s.name.startswith("loop item")]
    assert sorted(s.attributes["flowmaestro.item.index"] for s in items) == [0, 1, 2]
    for item in items:
        parent = by_id[_hex(item.parent.span_id, 16)]
        assert parent.attributes["flowmaestro.node.id"] == "loop"
    bodies = [s for s in exported if s.attributes.get("flowmaestro.node.id") == "w"]
    assert len(bodies) == 3 and all(by_id[_hex(b.parent.span_id, 16)] in items for b in bodies)


def test_a_failed_node_run_is_an_error_span(alice, spans):
    d = definition([START, {"id": "boom", "type": "fail", "config": {"message": "nope"}}], [("start", "boom")])
    ex = run(alice, d)
    assert ex.status == "failed"
    tracing.export_finished()
    boom = next(s for s in spans.get_finished_spans() if s.attributes.get("flowmaestro.node.id") == "boom")
    assert boom.status.status_code.name == "ERROR" and "nope" in (boom.status.description or "")


class _Recorder(QuietHandler):
    seen: list[dict[str, str]] = []
    bodies: list[bytes] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self._answer(b'{"ok": true}')

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        type(self).bodies.append(self.rfile.read(length))
        self._answer(b"")

    def _answer(self, body: bytes) -> None:
        self.send(200, body, "application/json" if body else "application/x-protobuf")


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen, _Recorder.bodies = [], []
    with serving(_Recorder) as url:
        yield url


def test_the_http_node_sends_traceparent_of_its_own_span(alice, spans, recorder):
    from engine.runtime import start_engine

    start_engine().options.http_allow_private = True
    d = definition([START, {"id": "call", "type": "http", "config": {"method": "GET", "url": recorder + "/x"}}],
                   [("start", "call")])
    ex = run(alice, d)
    assert ex.status == "succeeded", ex.error
    header = _Recorder.seen[0].get("traceparent")
    parsed = parse_traceparent(header)
    assert parsed is not None, header
    tracing.export_finished()
    call = next(s for s in spans.get_finished_spans() if s.attributes.get("flowmaestro.node.id") == "call")
    assert parsed == (_hex(call.context.trace_id, 32), _hex(call.context.span_id, 16))
    row = NodeRun.objects.get(execution=ex, node_id="call")
    assert parsed[1] == node_run_span_id(parsed[0], row.trace_id, "call", row.iteration, row.attempt)


def test_a_webhook_traceparent_becomes_the_execution_parent(alice, alice_client, spans, wait_for_execution):
    from editor.services import workflow_create
    from tests.conftest import SIMPLE_DEFINITION

    workflow = workflow_create(owner=alice, name="hooked", description="", definition=SIMPLE_DEFINITION)
    hook = alice_client.post(f"/api/workflows/{workflow.pk}/webhooks", {}, format="json").json()
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    answer = APIClient().post(hook["url"].replace("http://testserver", ""), {"who": "traced"}, format="json",
                              HTTP_TRACEPARENT=caller).json()
    wait_for_execution(alice_client, answer["executionId"])
    tracing.export_finished()
    root = next(s for s in spans.get_finished_spans() if s.name.startswith("execution "))
    assert _hex(root.context.trace_id, 32) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert root.parent is not None and _hex(root.parent.span_id, 16) == "00f067aa0ba902b7"


def test_spans_reach_an_otlp_collector_over_http(alice, recorder, monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recorder)
    tracing.reset_exporter()
    try:
        ex = run(alice, definition([START, {"id": "o", "type": "output", "config": {"value": 1}}], [("start", "o")]))
        assert tracing.export_finished() == 1
    finally:
        tracing.reset_exporter()
    assert _Recorder.seen[-1].get("content-type") == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(_Recorder.bodies[-1])
    names = {span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans}
    assert f"execution {ex.workflow.name}" in names and "output o" in names
    service = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert service["service.name"] == "flowmaestro"
