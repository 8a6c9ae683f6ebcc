"""Helpers for tests that run workflows on the real engine and the real database."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.models import User

from editor.models import Workflow, WorkflowVersion
from engine import services
from engine.models import Execution, NodeRun
from engine.runtime import start_engine

START = {"id": "start", "type": "start", "config": {}}


def definition(nodes: list[dict[str, Any]], edges: list[Any], **settings: Any) -> dict[str, Any]:
    """Nodes as dicts (config defaults to {}); edges as (source, target) or full dicts."""
    out_edges = []
    for i, e in enumerate(edges):
        if isinstance(e, tuple):
            out_edges.append({"id": f"e{i}", "source": e[0], "target": e[1]})
        else:
            out_edges.append({"id": e.get("id", f"e{i}"), **e})
    return {
        "schemaVersion": 1, "name": "t", "settings": settings,
        "nodes": [{"config": {}, **n} for n in nodes], "edges": out_edges,
    }


def loop_definition(loop_config: dict[str, Any], body: list[dict[str, Any]], body_edges: list[Any] = (),  # type: ignore[assignment]
                    *, array: str = "{{input.items}}", **settings: Any) -> dict[str, Any]:
    nodes = [START, {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": array, **loop_config}},
             *[{**n, "parentId": "loop"} for n in body],
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}]
    return definition(nodes, [("start", "loop"), ("loop", "o"), *body_edges], **settings)


def make_workflow(owner: User, d: dict[str, Any]) -> Workflow:
    wf = Workflow.objects.create(owner=owner, name=d.get("name", "t"), definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    return wf


def wait_finished(execution_id: Any, timeout: float = 20) -> Execution:
    deadline = time.monotonic() + timeout
    ex = Execution.objects.get(id=execution_id)
    while ex.status in ("queued", "running", "paused") and time.monotonic() < deadline:
        time.sleep(0.02)
        ex.refresh_from_db()
    assert ex.status not in ("queued", "running", "paused"), f"execution {ex.id} still {ex.status}"
    return ex


def start(owner: User, wf: Workflow, input: Any = None, priority: int = 0) -> Execution:
    ex = services.execution_start(workflow=wf, user=owner, input=input if input is not None else {}, priority=priority)
    start_engine().submit(ex.id)
    return ex


def run(owner: User, d: dict[str, Any], input: Any = None, timeout: float = 20) -> Execution:
    wf = make_workflow(owner, d)
    ex = start(owner, wf, input)
    engine = start_engine()
    assert engine.wait(ex.id, timeout), "execution did not finish"
    return wait_finished(ex.id, 5)


def runs_of(ex: Execution, node_id: str) -> list[NodeRun]:
    return list(NodeRun.objects.filter(execution=ex, node_id=node_id).order_by("seq"))


def peak_concurrency(runs: list[NodeRun]) -> int:
    """Most node runs in flight at once, from their start and finish times (a finish at
    the same instant as a start counts first). Node runs that never ran are left out."""
    runs = [r for r in runs if r.started_at is not None and r.finished_at is not None]
    points = sorted([(r.started_at, 1) for r in runs] + [(r.finished_at, -1) for r in runs],
                    key=lambda p: (p[0], p[1]))
    live = peak = 0
    for _, step in points:
        live += step
        peak = max(peak, live)
    return peak


def seconds(a: Any, b: Any) -> float:
    return float((b - a).total_seconds())
