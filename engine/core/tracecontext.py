"""W3C trace context for executions (no Django): the OpenTelemetry trace id of a run and the
span ids of its branches, loop items and node runs.

Span ids are derived, not random: the `http` node puts its node run's span id into the
`traceparent` header while the request is under way, and the exporter (which builds the
spans after the execution has finished, from the stored rows) derives the same id from
the same facts — so the callee's spans hang under the right node run without the engine
keeping any tracing state of its own. The trace id itself is random (128 bits), chosen
when the run is queued, or the caller's when a webhook brought a `traceparent`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid W3C `traceparent` header (version 00), else None."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_SPAN:
        return None
    return match.group(1), match.group(2)


def new_trace_context(traceparent: str | None = None) -> dict[str, Any]:
    """What an execution stores at birth (`state["otel"]`): its trace id and, when a caller
    sent a `traceparent`, the caller's span as the parent of the execution's span."""
    parsed = parse_traceparent(traceparent)
    if parsed is not None:
        return {"traceId": parsed[0], "parentSpanId": parsed[1]}
    return {"traceId": secrets.token_hex(16), "parentSpanId": None}


def fallback_trace_id(execution_id: Any, trace_id: str) -> str:
    """For executions queued before trace context was stored: stable, and unique per run
    (the seed-style trace id alone has only 24 random bits)."""
    return hashlib.sha256(f"{execution_id}:{trace_id}".encode()).hexdigest()[:32]


def span_id(otel_trace_id: str, *parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join([otel_trace_id, *(str(p) for p in parts)]).encode()).hexdigest()[:16]
    return digest if digest != _ZERO_SPAN else "0" * 15 + "1"


def execution_span_id(otel_trace_id: str) -> str:
    return span_id(otel_trace_id, "execution")


def branch_span_id(otel_trace_id: str, branch_id: str) -> str:
    return span_id(otel_trace_id, "branch", branch_id)


def item_span_id(otel_trace_id: str, scope: str) -> str:
    return span_id(otel_trace_id, "item", scope)


def node_run_span_id(otel_trace_id: str, branch_trace_id: str, node_id: str, iteration: int | None,
                     attempt: int) -> str:
    """One span per node-run attempt: the facts both the running node and the stored row
    know (the branch's seed trace id tells loop items and branches apart)."""
    return span_id(otel_trace_id, "node", branch_trace_id, node_id, "" if iteration is None else iteration, attempt)


def traceparent(otel_trace_id: str, parent_span_id: str) -> str:
    return f"00-{otel_trace_id}-{parent_span_id}-01"
