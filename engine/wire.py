"""The two shapes that leave the server on more than one path, written once (SPEC §8).

An event goes out from the announcer (live), from the websocket's catch-up read, from
`GET /api/executions/{id}/events` and in a node run's logs; an execution's status summary
goes out from the announcer and from the list stream's periodic comparison. Each path
builds its dict from plain columns through these functions, so a client cannot tell which
path a message took (and a change to a shape is made once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

# The columns of an `Event` row that make up its wire shape.
EVENT_COLUMNS = ("seq", "type", "ts", "execution_id", "node_id", "node_run_id", "branch_id", "branch_name",
                 "trace_id", "attempt", "iteration", "status", "data")
# The columns (`values()` lookups) of an `Execution` row that make up its status summary.
# `failed_nodes` and `failed_items` are the engine's count, at the run's end, of what a
# redrive without a selection re-runs: small columns, so no summary reads the `state`.
# `redrives`, `redriven_at` and `idle_ms` say that (and when) a run was redriven and how long it
# sat finished before (left out of its duration).
SUMMARY_COLUMNS = ("id", "status", "workflow_id", "workflow__name", "trace_id", "created_at", "started_at",
                   "finished_at", "failed_nodes", "failed_items", "redrives", "redriven_at", "idle_ms")


def summary_expressions() -> dict[str, Any]:
    """What a summary reads beside its columns (`values(*SUMMARY_COLUMNS,
    **summary_expressions())`, or `annotate`): the approval a paused run waits at, from the
    `awaiting` entry of its state. Only a paused row's state is looked into, so a list of
    runs still does not read (on PostgreSQL: detoast) every run's state."""
    from django.db.models import Case, CharField, When
    from django.db.models.fields.json import KT

    def awaiting(key: str) -> Case:
        return Case(When(status="paused", then=KT(f"state__awaiting__{key}")), default=None,
                    output_field=CharField())

    return {"awaiting_node": awaiting("nodeId"), "awaiting_name": awaiting("name")}


def waiting_approval(node_id: str | None, name: str | None) -> dict[str, Any] | None:
    """`waitingApproval` of a summary: the approval node a paused run waits at, or None
    (running, or paused by a `pause` signal)."""
    return {"nodeId": node_id, "name": name or node_id} if node_id else None


def event_message(e: Mapping[str, Any]) -> dict[str, Any]:
    """An event as sent to clients: camelCase, empty strings as null."""
    return {
        "seq": e["seq"], "type": e["type"], "ts": e["ts"].isoformat(), "executionId": e["execution_id"],
        "nodeId": e["node_id"] or None, "nodeRunId": e["node_run_id"] or None, "branchId": e["branch_id"] or None,
        "branchName": e["branch_name"] or None, "traceId": e["trace_id"] or None, "attempt": e["attempt"],
        "iteration": e["iteration"], "status": e["status"] or None, "data": e["data"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def execution_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `execution.status` message's execution, from a row with `SUMMARY_COLUMNS`."""
    return {
        "id": row["id"], "status": row["status"], "workflow": row["workflow_id"],
        "workflowName": row["workflow__name"], "traceId": row["trace_id"], "createdAt": _iso(row["created_at"]),
        "startedAt": _iso(row["started_at"]), "finishedAt": _iso(row["finished_at"]),
        "failedNodes": row["failed_nodes"], "failedItems": row["failed_items"],
        "redrives": row["redrives"], "redrivenAt": _iso(row["redriven_at"]), "idleMs": row["idle_ms"],
        "waitingApproval": waiting_approval(row.get("awaiting_node"), row.get("awaiting_name")),
    }
