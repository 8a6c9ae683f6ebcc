"""Applying signals to a running execution (SPEC §6), on the coordinator thread.

Handlers come from `settings.signalHandlers`; pause, resume and cancel have defaults.
Every signal is recorded as a `signal` event before it acts, so the timeline shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.core.persistence import SignalRecord

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun

DEFAULT_HANDLERS: dict[str, dict[str, Any]] = {
    "pause": {"action": "pause"},
    "resume": {"action": "resume"},
    "cancel": {"action": "cancel"},
}


def handler_for(settings: Any, signal_type: str) -> dict[str, Any] | None:
    handlers = (settings or {}).get("signalHandlers") or {}
    handler = handlers.get(signal_type) or DEFAULT_HANDLERS.get(signal_type)
    return dict(handler) if isinstance(handler, dict) else None


def apply_signal(ex: ExecutionRun, record: SignalRecord) -> None:
    handler = handler_for(ex.plan.graph.settings, record.type) or {"action": "ignore"}
    action = handler.get("action", record.type)
    ex.event("signal", status=ex.status, data={
        "type": record.type, "action": action, "reason": record.reason, "data": record.data,
        "sentBy": record.sent_by,
    })
    if ex.finished:
        return
    if action == "pause" and ex.status == "running":
        ex.status = "paused"
        ex.pause_reason = record.reason or "paused"
        if handler.get("cleanup"):
            # Interrupt what runs now; each interrupted node run starts again on resume.
            for attempt in list(ex.active.values()):
                if attempt.status == "running" and attempt.loop is None:
                    scope, node_id = attempt.scope, attempt.node.id
                    if attempt.ctx is not None:
                        attempt.ctx.cancel()
                    ex.finalize(attempt, "cancelled", error={"message": "interrupted by pause (cleanup)"},
                                propagate=False)
                    scope.attempts.pop(node_id, None)
                    ex.node_ready(scope, node_id)
        ex.save_state()
        ex.update_execution(status="paused")
        ex.event("execution.paused", status="paused", data={"reason": ex.pause_reason})
    elif action == "resume" and ex.status == "paused":
        if isinstance(record.data, dict):
            ex.signal = {**(ex.signal if isinstance(ex.signal, dict) else {}), **record.data}
        elif record.data is not None:
            ex.signal = record.data
        ex.status = "running"
        ex.pause_reason = ""
        ex.save_state()
        ex.update_execution(status="running")
        ex.event("execution.resumed", status="running", data={"data": record.data})
        awaiting = getattr(ex, "awaiting", None)
        if awaiting is not None:
            ex.awaiting = None  # type: ignore[attr-defined]
            ex.complete(awaiting, record.data if record.data is not None else {}, None)
        ex.engine.mark_dirty(ex)
    elif action == "cancel":
        ex.engine.on_cancel_signal(ex, handler, record)
    elif action == "custom":
        ex.engine.run_handler(ex, str(handler.get("handler", "")), record)
