"""The workflow-level run queue (SPEC §4.5): which queued executions may start now.

`settings.queue.maxConcurrentRuns` caps running executions per workflow; the rest wait in
order of the queue's `priority` rule (fifo, lifo, or the run's `priority`).
"""

from __future__ import annotations

from typing import Any

from engine.models import Execution


def queue_settings(definition: Any) -> dict[str, Any]:
    settings = (definition or {}).get("settings") or {}
    queue = settings.get("queue") or {}
    return queue if isinstance(queue, dict) else {}


def runnable_queued_ids(limit: int) -> list[Any]:
    queued = list(
        Execution.objects.filter(status="queued")
        .order_by("created_at", "id")
        .values_list("id", "workflow_id", "priority", "version__definition")[: limit * 20]
    )
    if not queued:
        return []
    workflows = {w for _, w, _, _ in queued}
    running: dict[Any, int] = {w: 0 for w in workflows}
    for workflow_id in (
        Execution.objects.filter(workflow_id__in=workflows, status__in=["running", "paused"])
        .values_list("workflow_id", flat=True)
    ):
        running[workflow_id] += 1
    by_workflow: dict[Any, list[tuple[Any, int, dict[str, Any]]]] = {}
    for execution_id, workflow_id, priority, definition in queued:
        by_workflow.setdefault(workflow_id, []).append((execution_id, priority, queue_settings(definition)))
    chosen: list[Any] = []
    for workflow_id, entries in by_workflow.items():
        queue = entries[-1][2]
        order = queue.get("priority", "fifo")
        if order == "lifo":
            entries = list(reversed(entries))
        elif order == "priority":
            entries = sorted(entries, key=lambda e: -e[1])
        cap = queue.get("maxConcurrentRuns")
        free = (int(cap) - running[workflow_id]) if cap else len(entries)
        chosen.extend(e[0] for e in entries[: max(0, free)])
    return chosen[:limit]
