"""Announce committed events on the channel layer (SPEC §8), off the engine's hot path.

Runs on the engine's announcer thread after each flush. Groups:
`execution.<id>` gets `{"type": "execution.events", "events": [...]}` in seq order;
`executions.user.<owner_id>` gets `{"type": "execution.status", "execution": {...}}` when
an execution's status changes. A lost message is harmless: consumers fill gaps from the
event store.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from engine.core.persistence import Batch

log = logging.getLogger("engine")


def wire_event(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": e["seq"], "type": e["type"], "ts": e["ts"].isoformat(), "executionId": e["execution_id"],
        "nodeId": e["node_id"] or None, "nodeRunId": e["node_run_id"] or None, "branchId": e["branch_id"] or None,
        "branchName": e["branch_name"] or None, "traceId": e["trace_id"] or None, "attempt": e["attempt"],
        "iteration": e["iteration"], "status": e["status"] or None, "data": e["data"],
    }


def execution_summary(execution_id: Any) -> dict[str, Any] | None:
    from engine.models import Execution

    ex = Execution.objects.select_related("workflow").filter(id=execution_id).first()
    if ex is None:
        return None
    return {
        "id": ex.id, "status": ex.status, "workflow": ex.workflow_id, "workflowName": ex.workflow.name,
        "traceId": ex.trace_id, "createdAt": ex.created_at.isoformat(),
        "startedAt": ex.started_at.isoformat() if ex.started_at else None,
        "finishedAt": ex.finished_at.isoformat() if ex.finished_at else None,
        "owner": ex.owner_id,
    }


def announce_batch(batch: Batch) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    by_execution: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for event in batch.events:
        by_execution[event["execution_id"]].append(wire_event(event))

    async def send() -> None:
        for execution_id, events in by_execution.items():
            try:
                await layer.group_send(f"execution.{execution_id}", {"type": "execution.events", "events": events})
            except Exception:  # noqa: BLE001 - consumers catch up from the store
                log.warning("announce to execution.%s failed", execution_id, exc_info=True)
        for execution_id, summary in statuses:
            try:
                await layer.group_send(
                    f"executions.user.{summary['owner']}", {"type": "execution.status", "execution": summary}
                )
            except Exception:  # noqa: BLE001
                log.warning("status announce for %s failed", execution_id, exc_info=True)

    statuses = []
    for execution_id, fields in batch.executions.items():
        if "status" in fields:
            summary = execution_summary(execution_id)
            if summary is not None:
                statuses.append((execution_id, summary))
    async_to_sync(send)()


def announce_status(execution_id: Any) -> None:
    """For status changes made outside the engine (a run queued by the API)."""
    summary = execution_summary(execution_id)
    layer = get_channel_layer()
    if summary is None or layer is None:
        return
    async_to_sync(layer.group_send)(
        f"executions.user.{summary['owner']}", {"type": "execution.status", "execution": summary}
    )
