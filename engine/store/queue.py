"""The workflow-level run queue (SPEC §4.5), as the store reads it: which queued executions
may start now.

`settings.queue.maxConcurrentRuns` caps running executions per workflow; the rest wait in
order of the queue's `priority` rule (fifo, lifo, or the run's `priority`).

The engine asks these questions on every wake-up (each run request wakes it), so they
must stay cheap while hundreds of runs wait: queued runs are read as bare ids, and the
queue settings are read once per distinct version, not once per queued run.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.db.models import Count

from editor.models import WorkflowVersion
from engine.models import Execution
from engine.store.sql import in_chunks


def queue_settings(definition: Any) -> dict[str, Any]:
    settings = (definition or {}).get("settings") or {}
    queue = settings.get("queue") or {}
    return queue if isinstance(queue, dict) else {}


def version_queue_settings(version_ids: set[Any] | list[Any]) -> dict[Any, dict[str, Any]]:
    """The queue settings of each version: one query for the distinct versions waiting
    (few), not a definition per queued run (many). Not cached across calls: ids can be
    reused (a rolled-back test, a restored database) and a stale queue rule would be wrong."""
    if not version_ids:
        return {}
    # Only `settings.queue` is read from the database, not the whole definition: a big
    # workflow's definition costs a millisecond to decode.
    if connection.vendor == "sqlite":
        return _plain_queue_settings(list(version_ids), "json_extract({definition}, '$.settings.queue')")
    if connection.vendor == "postgresql":
        return _plain_queue_settings(list(version_ids), "{definition} #> '{{settings,queue}}'")
    return {
        version_id: queue_settings({"settings": {"queue": queue}})
        for version_id, queue in WorkflowVersion.objects.filter(id__in=list(version_ids)).values_list(
            "id", "definition__settings__queue"
        )
    }


def _plain_queue_settings(version_ids: list[Any], extract: str) -> dict[Any, dict[str, Any]]:
    """`version_queue_settings` as one plain statement: the ORM's JSON key transform cost
    ~0.5 ms to compile, on every wake-up of the engine (each run request). `extract` reads
    `settings.queue` of the `{definition}` column: SQLite's `json_extract` gives an object
    or array as JSON text and a scalar as itself, PostgreSQL's `#>` a decoded jsonb value
    (or its text); only an object counts."""
    qn = connection.ops.quote_name
    found: dict[Any, dict[str, Any]] = {}
    column = extract.format(definition=qn("definition"))
    with connection.cursor() as cursor:
        for chunk, marks in in_chunks(version_ids):
            cursor.execute(
                f"SELECT {qn('id')}, {column} FROM {qn(WorkflowVersion._meta.db_table)} WHERE {qn('id')} IN ({marks})",
                chunk,
            )
            for version_id, value in cursor.fetchall():
                queue = value
                if isinstance(value, str):
                    try:
                        queue = json.loads(value) if value.startswith("{") else None
                    except ValueError:
                        queue = None
                found[version_id] = queue_settings({"settings": {"queue": queue}})
    return found


def runnable_queued_ids(limit: int) -> list[Any]:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Asked on every poll and wake-up: a plain statement (the ORM compiled it each time).
        cursor.execute(
            f"SELECT {qn('id')}, {qn('workflow_id')}, {qn('priority')}, {qn('version_id')} "
            f"FROM {qn(Execution._meta.db_table)} WHERE {qn('status')} = 'queued' "
            f"ORDER BY {qn('created_at')}, {qn('id')} LIMIT %s", [limit * 20])
        queued = [tuple(row) for row in cursor.fetchall()]
    if not queued:
        return []
    queues = version_queue_settings({v for _, _, _, v in queued})
    by_workflow: dict[Any, list[tuple[Any, int, dict[str, Any]]]] = {}
    for execution_id, workflow_id, priority, version_id in queued:
        by_workflow.setdefault(workflow_id, []).append((execution_id, priority, queues.get(version_id) or {}))
    # The newest queued run's version decides the workflow's queue rules.
    capped = [w for w, entries in by_workflow.items() if entries[-1][2].get("maxConcurrentRuns")]
    running: dict[Any, int] = {}
    if capped:  # only capped workflows need to know how many of their runs are in flight
        running = dict(
            Execution.objects.filter(workflow_id__in=capped, status__in=["running", "paused"])
            .order_by()
            .values_list("workflow_id")
            .annotate(n=Count("id"))
            .values_list("workflow_id", "n")
        )
    chosen: list[Any] = []
    for workflow_id, entries in by_workflow.items():
        queue = entries[-1][2]
        order = queue.get("priority", "fifo")
        if order == "lifo":
            entries = list(reversed(entries))
        elif order == "priority":
            entries = sorted(entries, key=lambda e: -e[1])
        cap = queue.get("maxConcurrentRuns")
        free = (int(cap) - running.get(workflow_id, 0)) if cap else len(entries)
        chosen.extend(e[0] for e in entries[: max(0, free)])
    return chosen[:limit]
