"""A node run on the wire: what a remote executor sends to a worker process and what comes
back. JSON only (Celery's default serializer): the context's config, input and the
bindings its JavaScript may read are JSON already (they come from workflow definitions and
node outputs)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from engine.nodes.base import BranchResult, EngineOptions, NodeContext, NodeError, Route

if TYPE_CHECKING:
    from engine.core.execution import Attempt


def _json(value: Any) -> Any:
    """`value` as JSON data (what does not encode becomes its `str`, as node outputs do)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def call(attempt: Attempt, reply_to: str) -> dict[str, Any]:
    """The task's argument: everything the body needs, plus where to answer."""
    ctx = attempt.ctx
    assert ctx is not None
    return {
        "attempt": attempt.id,
        "replyTo": reply_to,
        "nodeId": ctx.node_id,
        "name": ctx.name,
        "type": ctx.type,
        "config": _json(ctx.config),
        "input": _json(ctx.input),
        "executionId": _json(ctx.execution_id),
        "traceId": ctx.trace_id,
        "branchId": ctx.branch_id,
        "branchName": ctx.branch_name,
        "number": ctx.attempt,
        "iteration": ctx.iteration,
        "otelTraceId": ctx.otel_trace_id,
        "scope": _json(ctx.scope),
        "branches": _json(ctx.branches),
        "branchResults": _json([asdict(r) for r in ctx.branch_results]),
        "options": asdict(ctx.options),
    }


def context(payload: dict[str, Any]) -> NodeContext:
    """The worker's side of `call`."""
    return NodeContext(
        node_id=payload["nodeId"], name=payload["name"], type=payload["type"], config=payload["config"],
        input=payload["input"], execution_id=payload["executionId"], trace_id=payload["traceId"],
        branch_id=payload["branchId"], branch_name=payload["branchName"], attempt=payload["number"],
        iteration=payload["iteration"], otel_trace_id=payload.get("otelTraceId"), scope=payload["scope"], branches=payload["branches"],
        branch_results=[BranchResult(**r) for r in payload["branchResults"]],
        options=EngineOptions(**payload["options"]),
    )


def outcome(value: Any, exc: BaseException | None) -> dict[str, Any]:
    """What a body returned or raised, as JSON."""
    if exc is not None:
        if isinstance(exc, NodeError):
            return {"error": exc.as_dict(), "retryable": exc.retryable}
        return {"raised": f"{type(exc).__name__}: {exc}"}
    if isinstance(value, Route):
        return {"output": _json(value.output), "handle": value.handle}
    return {"output": _json(value)}


def settle(data: dict[str, Any]) -> tuple[Any, BaseException | None]:
    """The coordinator's side of `outcome`: (value, exc) as `ExecutionRun.complete` takes them."""
    if "error" in data:
        error = data["error"]
        return None, NodeError(error.get("message", "error"), details=error.get("details"),
                               retryable=bool(data.get("retryable", True)))
    if "raised" in data:
        return None, NodeError(str(data["raised"]))
    if "handle" in data:
        return Route(data.get("output"), data["handle"]), None
    return data.get("output"), None
