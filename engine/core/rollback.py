"""Rollback on `cancel` with `rollback: true` (SPEC §6): the saga pattern.

Each node that succeeded and names a `compensate` node (usually an unconnected node on
the canvas) is undone by running that node with the compensated node's output as input,
in reverse finish order, one after another. Compensations are node runs like any other
(top-level scope, visible on the timeline); the execution ends `cancelled` only after the
last one. A failed compensation is recorded and the rollback goes on with the next one:
stopping half-way would leave more undone than doing the rest.

The plan lives in the execution's persisted state (`rollback`), so an engine that takes
the execution over mid-rollback carries on with the compensations that are left.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.policies import node_policy

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun
    from engine.core.graph import Node
    from engine.core.scopes import Attempt


def note_succeeded(ex: ExecutionRun, node: Node, row: Mapping[str, Any]) -> None:
    """Remember a succeeded node run that can be compensated (only those: a 100,000-item
    loop without `compensate` costs nothing here)."""
    compensate = (node.config or {}).get("compensate")
    if not compensate or row.get("status") != "succeeded":
        return
    ex.compensable.append({
        "nodeRunId": row["id"], "nodeId": node.id, "compensate": str(compensate), "scope": row.get("scope", ""),
        "output": row.get("output"), "finishedAt": _epoch(row.get("finished_at")), "seq": row.get("seq", 0),
    })


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return 0.0
    return float(value or 0.0)


def rollback_and_cancel(ex: ExecutionRun, reason: str) -> None:
    """Stop everything now, then compensate, then end `cancelled`."""
    if ex.finished:
        return
    _stop_everything(ex, reason)
    plan = sorted(ex.compensable, key=lambda c: (c["finishedAt"], c["seq"]), reverse=True)
    pending = [{k: c[k] for k in ("nodeRunId", "nodeId", "compensate", "scope", "output")} for c in plan]
    ex.extra_state["rollback"] = {"reason": reason, "pending": pending, "done": []}
    ex.set_status("cancelling", "execution.rolling_back", data={
        "reason": reason, "compensations": [{"nodeId": c["nodeId"], "compensate": c["compensate"]} for c in pending],
    })
    _next(ex)


def continue_rollback(ex: ExecutionRun) -> None:
    """After a takeover: the restarted run re-queued its unfinished nodes; drop them and go
    on with the compensations that are left (an interrupted one runs again)."""
    state = ex.extra_state["rollback"]
    _stop_everything(ex, str(state.get("reason") or "cancelled"))
    ex.set_status("cancelling", "execution.rolling_back", data={
        "reason": state.get("reason"), "resumed": True,
        "compensations": [{"nodeId": c["nodeId"], "compensate": c["compensate"]} for c in state.get("pending", [])],
    })
    _next(ex)


def _stop_everything(ex: ExecutionRun, reason: str) -> None:
    """Everything stops; the execution is `cancelling` (stored as running), which keeps it
    from starting anything but the compensations, which start at once."""
    ex.stop_all(reason)
    ex.awaiting = None
    ex.extra_state.pop("awaiting", None)
    ex.extra_state.pop("granted", None)


def _next(ex: ExecutionRun) -> None:
    if ex.finished:
        return
    state = ex.extra_state["rollback"]
    while state["pending"]:
        item = state["pending"][0]
        node = ex.plan.graph.nodes.get(item["compensate"])
        if node is not None:
            _start_compensation(ex, item, node)
            return
        state["done"].append({"nodeId": item["nodeId"], "compensate": item["compensate"], "status": "failed",
                              "error": {"message": f"compensate node {item['compensate']!r} not found"}})
        state["pending"].pop(0)
    reason = str(state.get("reason") or "cancelled")
    done = state["done"]
    ex.extra_state.pop("rollback", None)
    ex.cancelled_reason = reason
    error: dict[str, Any] = {"message": reason}
    if done:
        error["rollback"] = done
    ex.finish("cancelled", error)


def _start_compensation(ex: ExecutionRun, item: dict[str, Any], node: Node) -> None:
    # Retried by its own `retry` like any node run (ExecutionRun.fail_attempt); the rollback
    # hears of it once it has ended for good.
    ex.save_state()
    ex.start_detached(node, item.get("output"), node_policy(node.config),
                      on_finish=lambda attempt: _compensation_finished(ex, item, attempt),
                      data={"compensates": item["nodeId"], "compensatedNodeRunId": item["nodeRunId"]}, at_once=True)


def _compensation_finished(ex: ExecutionRun, item: dict[str, Any], attempt: Attempt) -> None:
    state = ex.extra_state.get("rollback")
    if state is None or ex.finished:
        return
    entry: dict[str, Any] = {"nodeId": item["nodeId"], "compensate": item["compensate"], "status": attempt.status,
                             "nodeRunId": attempt.id}
    if attempt.row.get("error"):
        entry["error"] = attempt.row["error"]
    state["done"].append(entry)
    state["pending"].pop(0)
    ex.save_state()
    # Next step on the next tick: an inline compensation finishes inside its start, and a
    # long plan must not grow the stack.
    ex.engine.call_soon(lambda: _next(ex))
