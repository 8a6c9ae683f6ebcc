"""OpenTelemetry export: every finished execution as a tree of spans — the execution, its
branches, loop items and node-run attempts — with the product's trace ids as attributes.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: the
OTLP/HTTP exporter of the OpenTelemetry SDK sends them to a collector (Jaeger, Tempo,
Honeycomb…), configured by the SDK's own `OTEL_*` variables. Spans are built after the
execution has finished, from its stored rows, by the housekeeping thread of any engine
process; each execution is claimed for export with a compare-and-set on `traced_at`, so it
is exported once however many processes run. Span ids come from
`engine.core.tracecontext`, the same ones the `http` node sends in `traceparent` while the
run is under way, so a callee's spans join the tree under the node run that called it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.utils import timezone
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from engine.core import tracecontext as tc
from engine.models import FINISHED_EXECUTION_STATUSES, Execution, NodeRun

log = logging.getLogger("engine.tracing")
SCOPE = InstrumentationScope("flowmaestro.engine")
FAILED = frozenset({"failed", "timed_out"})

_lock = threading.Lock()
_exporter: SpanExporter | None = None
_configured = False


def set_exporter(exporter: SpanExporter | None) -> None:
    """Use `exporter` (tests: the SDK's InMemorySpanExporter) instead of the environment's."""
    global _exporter, _configured
    with _lock:
        _exporter, _configured = exporter, True


def reset_exporter() -> None:
    """Read the environment again at the next export (tests)."""
    global _exporter, _configured
    with _lock:
        _exporter, _configured = None, False


def exporter() -> SpanExporter | None:
    global _exporter, _configured
    with _lock:
        if not _configured:
            _configured = True
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                _exporter = OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_* variables
        return _exporter


def _ns(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1_000_000_000) if moment is not None else None


def _context(trace_id: str, span_id: str) -> SpanContext:
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def _status(status: str, error: Any) -> Status:
    if status in FAILED:
        message = error.get("message") if isinstance(error, dict) else (str(error) if error else status)
        return Status(StatusCode.ERROR, str(message)[:500])
    return Status(StatusCode.OK if status == "succeeded" else StatusCode.UNSET)


def otel_trace_id(execution: Execution) -> str:
    otel = (execution.state or {}).get("otel") or {}
    return str(otel.get("traceId") or tc.fallback_trace_id(execution.pk, execution.trace_id))


def _parent_scope(scope: str) -> str:
    return scope.rsplit("/", 1)[0] if "/" in scope else ""


def spans_for(execution: Execution, node_runs: list[NodeRun]) -> list[ReadableSpan]:
    """The span tree of one finished execution."""
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "flowmaestro")})
    trace = otel_trace_id(execution)
    otel = (execution.state or {}).get("otel") or {}
    root = tc.execution_span_id(trace)
    root_parent = otel.get("parentSpanId")
    spans: list[ReadableSpan] = []

    def span(name: str, span_id: str, parent: str | None, start: datetime | None, end: datetime | None,
             attributes: dict[str, Any], status: Status, remote_parent: bool = False) -> None:
        parent_ctx = None
        if parent:
            parent_ctx = SpanContext(int(trace, 16), int(parent, 16), is_remote=remote_parent,
                                     trace_flags=TraceFlags(TraceFlags.SAMPLED))
        spans.append(ReadableSpan(
            name=name, context=_context(trace, span_id), parent=parent_ctx, resource=resource,
            attributes={k: v for k, v in attributes.items() if v is not None}, kind=SpanKind.INTERNAL,
            status=status, start_time=_ns(start), end_time=_ns(end or start), instrumentation_scope=SCOPE,
        ))

    started = [r for r in node_runs if r.started_at is not None]
    # Loop items: one span per item scope, under the loop node's run in the enclosing scope.
    loop_runs = {(r.scope, r.node_id): r for r in started if r.scope is not None}
    by_scope: dict[str, list[NodeRun]] = defaultdict(list)
    for r in started:
        if r.scope:
            by_scope[r.scope].append(r)
            parent = _parent_scope(r.scope)
            while parent and parent not in by_scope:  # an item whose body holds only inner items
                by_scope[parent] = []
                parent = _parent_scope(parent)

    def node_span(r: NodeRun) -> str:
        return tc.node_run_span_id(trace, r.trace_id, r.node_id, r.iteration, r.attempt)

    for scope, runs in by_scope.items():
        enclosing = _parent_scope(scope)
        loop_node, _, index = scope.rsplit("/", 1)[-1].partition("#")
        loop = loop_runs.get((enclosing, loop_node))
        members = [r for s, rs in by_scope.items() if s == scope or s.startswith(scope + "/") for r in rs]
        if not members:
            continue
        span(f"{loop_node} item {index}", tc.item_span_id(trace, scope),
             node_span(loop) if loop is not None else root,
             min(r.started_at for r in members if r.started_at), max((r.finished_at or r.started_at) for r in members if r.started_at),
             {"flowmaestro.loop.node.id": loop_node, "flowmaestro.item.index": int(index) if index.isdigit() else None,
              "flowmaestro.scope": scope, "flowmaestro.trace_id": members[0].trace_id},
             Status(StatusCode.ERROR) if any(r.status in FAILED for r in runs) else Status(StatusCode.UNSET))

    # Branches of the top-level graph: nested by id ("1.2" under "1").
    branches: dict[str, list[NodeRun]] = defaultdict(list)
    for r in started:
        if not r.scope and r.branch_id and r.branch_id != "main":
            branches[r.branch_id].append(r)
    for branch_id, runs in branches.items():
        parent_id = branch_id.rsplit(".", 1)[0] if "." in branch_id else ""
        span(f"branch {runs[0].branch_name or branch_id}", tc.branch_span_id(trace, branch_id),
             tc.branch_span_id(trace, parent_id) if parent_id in branches else root,
             min(r.started_at for r in runs if r.started_at), max((r.finished_at or r.started_at) for r in runs if r.started_at),
             {"flowmaestro.branch.id": branch_id, "flowmaestro.branch.name": runs[0].branch_name,
              "flowmaestro.trace_id": runs[0].trace_id},
             Status(StatusCode.ERROR) if any(r.status in FAILED for r in runs) else Status(StatusCode.UNSET))

    for r in started:
        if r.scope:
            parent = tc.item_span_id(trace, r.scope)
        elif r.branch_id and r.branch_id != "main":
            parent = tc.branch_span_id(trace, r.branch_id)
        else:
            parent = root
        span(f"{r.type} {r.name or r.node_id}", node_span(r), parent, r.started_at, r.finished_at or r.started_at,
             {"flowmaestro.node.id": r.node_id, "flowmaestro.node.type": r.type, "flowmaestro.node_run.id": r.id,
              "flowmaestro.attempt": r.attempt, "flowmaestro.iteration": r.iteration,
              "flowmaestro.branch.id": r.branch_id, "flowmaestro.branch.name": r.branch_name,
              "flowmaestro.trace_id": r.trace_id, "flowmaestro.status": r.status,
              "flowmaestro.queue_wait_ms": (r.started_at - r.queued_at).total_seconds() * 1000
              if r.queued_at and r.started_at else None},
             _status(r.status, r.error))

    span(f"execution {execution.workflow.name}", root, root_parent, execution.created_at,
         execution.finished_at or timezone.now(),
         {"flowmaestro.execution.id": execution.pk, "flowmaestro.trace_id": execution.trace_id,
          "flowmaestro.workflow.id": execution.workflow_id, "flowmaestro.workflow.name": execution.workflow.name,
          "flowmaestro.workflow.version": execution.version.number, "flowmaestro.status": execution.status},
         _status(execution.status, execution.error), remote_parent=bool(root_parent))
    return spans


def export_finished(limit: int = 50) -> int:
    """Export the spans of finished executions not exported yet; answer how many executions."""
    target = exporter()
    if target is None:
        return 0
    candidates = list(
        Execution.objects.filter(status__in=FINISHED_EXECUTION_STATUSES, traced_at__isnull=True)
        .order_by("finished_at", "id").values_list("pk", flat=True)[:limit]
    )
    exported = 0
    for pk in candidates:
        # Compare-and-set: exactly one process exports each execution.
        if not Execution.objects.filter(pk=pk, traced_at__isnull=True).update(traced_at=timezone.now()):
            continue
        execution = Execution.objects.select_related("workflow", "version").get(pk=pk)
        runs = list(NodeRun.objects.filter(execution_id=pk).order_by("seq"))
        result = target.export(spans_for(execution, runs))
        if result != SpanExportResult.SUCCESS:
            log.warning("spans of execution %s were not accepted by the exporter (%s)", pk, result)
        exported += 1
    return exported

