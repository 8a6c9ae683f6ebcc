"""The workflow-level run queue (SPEC §4.5): which queued executions may start now.

`settings.queue.maxConcurrentRuns` caps running executions per workflow; the rest wait in
order of the queue's `priority` rule (fifo, lifo, or the run's `priority`).
"""

from __future__ import annotations

from typing import Any

from editor.models import WorkflowVersion
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


QUEUE_TIMEOUT_MESSAGE = "queue timeout"


def expire_queued(now: Any, *, limit: int = 2000) -> list[Any]:
    """Fail the queued runs that waited longer than their workflow's `queue.timeout` ms:
    status `timed_out`, error "queue timeout", an `execution.timed_out` event, and a dead
    letter when the queue keeps them. Compare-and-set on `status='queued'`, so a run an
    engine claimed meanwhile is left alone. Returns the ids that expired."""
    from datetime import timedelta

    from django.db import transaction
    from django.db.models import F

    from engine.dead_letters import keep_failed_runs
    from engine.models import Event

    queued = list(
        Execution.objects.filter(status="queued")
        .order_by("created_at", "id")
        .values_list("id", "created_at", "version_id")[:limit]
    )
    if not queued:
        return []
    # One read per distinct version (not per queued run): few versions, many runs.
    timeouts: dict[Any, float | None] = {}
    versions = {v for _, _, v in queued}
    for version_id, definition in WorkflowVersion.objects.filter(id__in=versions).values_list("id", "definition"):
        timeout = queue_settings(definition).get("timeout")
        timeouts[version_id] = float(timeout) if timeout else None
    expired: list[Any] = []
    for execution_id, created_at, version_id in queued:
        timeout = timeouts.get(version_id)
        if not timeout or created_at + timedelta(milliseconds=timeout) > now:
            continue
        waited_ms = round((now - created_at).total_seconds() * 1000)
        error = {"message": QUEUE_TIMEOUT_MESSAGE, "waitedMs": waited_ms, "queueTimeoutMs": int(timeout)}
        with transaction.atomic():
            won = Execution.objects.filter(id=execution_id, status="queued").update(
                status="timed_out", error=error, finished_at=now, last_seq=F("last_seq") + 1
            )
            if not won:
                continue
            execution = Execution.objects.only("last_seq", "trace_id").get(id=execution_id)
            Event.objects.create(
                execution_id=execution_id, seq=execution.last_seq, type="execution.timed_out", ts=now,
                trace_id=execution.trace_id, status="timed_out", data={"error": error},
            )
            keep_failed_runs([execution_id])
        expired.append(execution_id)
    return expired
