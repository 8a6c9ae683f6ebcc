"""Applying signals to a running execution (SPEC §6), on the coordinator thread, and the
waits of `approval` nodes.

Handlers come from `settings.signalHandlers`; pause, resume and cancel have defaults.
Every signal is recorded as a `signal` event before it acts, so the timeline shows it.

An approval wait lives in the execution's persisted state (`awaiting`: which node waits,
its approvers and its deadline), not only in memory: the API checks the approvers against
it, and an engine that takes the execution over after a crash or restart waits again at
the same node, with the same deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from engine.core.persistence import SignalRecord, now
from engine.core.policies import node_policy
from engine.core.records import FINAL, small
from engine.core.rollback import rollback_and_cancel
from engine.nodes import get_node_type

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun
    from engine.core.records import NodeRunRow
    from engine.core.scopes import Attempt
    from engine.nodes.base import AwaitSignal

DEFAULT_HANDLERS: dict[str, dict[str, Any]] = {
    "pause": {"action": "pause"},
    "resume": {"action": "resume"},
    "cancel": {"action": "cancel"},
}

# `onTimeout` values only an approval has: the wait ends as if someone had decided.
APPROVAL_TIMEOUT_DECISIONS = {"approve": True, "reject": False}


def handler_for(settings: Any, signal_type: str) -> dict[str, Any] | None:
    handlers = (settings or {}).get("signalHandlers") or {}
    handler = handlers.get(signal_type) or DEFAULT_HANDLERS.get(signal_type)
    return dict(handler) if isinstance(handler, dict) else None


def signal_refusal(state: Any, action: str, *, username: str, email: str) -> tuple[str, str] | None:
    """Why this user may not send this signal now, judged from the execution's persisted
    state: `("forbidden", message)` for someone who is not an approver of the waiting
    approval, `("conflict", message)` while a rollback runs; None when it may go ahead.
    Django-free so that the service and the tests share one rule."""
    state = state if isinstance(state, dict) else {}
    if state.get("rollback"):
        return "conflict", "the execution is rolling back after a cancel; signals no longer apply"
    waiting = state.get("awaiting")
    if action == "resume" and isinstance(waiting, dict):
        approvers = [str(a).strip().lower() for a in waiting.get("approvers") or [] if str(a).strip()]
        who = {username.strip().lower(), email.strip().lower()} - {""}
        if approvers and not who & set(approvers):
            return "forbidden", (
                f"only {', '.join(waiting.get('approvers') or [])} may approve node "
                f"{waiting.get('nodeId')!r}; {username or 'you'} is not an approver"
            )
    return None


def apply_signal(ex: ExecutionRun, record: SignalRecord) -> None:
    handler = handler_for(ex.plan.graph.settings, record.type) or {"action": "ignore"}
    action = handler.get("action", record.type)
    # The signal's data is cut in its events like a node's output (`small`): it may be as big
    # as a request body (2.5 MB), a running execution takes any number of signals, and every
    # events page and websocket replay carried each one whole (20 signals: a 40 MB page).
    # The pending signal's row and a custom handler's node run keep it whole.
    ex.rec.event("signal", status=ex.status, data={
        "type": record.type, "action": action, "reason": record.reason, "data": small(record.data),
        "sentBy": record.sent_by,
    })
    if ex.finished or ex.status == "cancelling":
        return  # a rollback runs: the execution is already on its way to `cancelled`
    if action == "pause" and ex.status == "running":
        _pause(ex, record, cleanup=bool(handler.get("cleanup")))
    elif action == "resume" and ex.status == "paused":
        _resume(ex, record)
    elif action == "cancel":
        _cancel(ex, handler, record)
    elif action == "custom":
        run_handler(ex, str(handler.get("handler", "")), record.data if record.data is not None else {})


# -- custom handlers ------------------------------------------------------------------------------
# As in Temporal, a signal is delivered whatever the run is doing: the API stores it, the
# engine records its `signal` event at once (paused or not) and the handler takes effect
# as far as the run's state allows. A handler node that only computes data (`set`,
# `transform` without JavaScript, `merge`, `log`: `NodeType.only_data`) runs at once even
# while the run is paused, so a `set` handler's variables are there before the resume. Any
# other handler node is node work, which a paused run does not start: it is queued and
# starts on resume.
#
# A handler is durable like the flow's node runs: from its queueing to its end it is kept in
# the execution's state (`handlers`: its current node run id, and where its retry series
# began), written in the same commit as its node run rows. An engine that takes the run over
# (a restart, or a takeover after a crash) carries each one on where it was: a queued one
# as the same row, one waiting to retry as the same row after the rest of its delay, one
# that was running as a new attempt (its row is recorded as interrupted, as a node's is). A
# handler that ended is no longer in the state, so it never runs twice.

def run_handler(ex: ExecutionRun, node_id: str, node_input: Any, *, taken_up: NodeRunRow | None = None,
                tries_before: int | None = None, retry_in: float | None = None) -> None:
    """A custom handler: its node runs outside the flow, while the execution goes on (or,
    for node work, once a paused execution is resumed). `taken_up`, `tries_before` and
    `retry_in` carry on an earlier engine's handler (`requeue_handlers`)."""
    node = ex.plan.graph.nodes.get(node_id)
    if node is None:
        ex.rec.event("log", status=ex.status, data={"message": f"signal handler node {node_id!r} not found"})
        return
    cls = get_node_type(node.type)
    at_once = ex.status == "paused" and cls is not None and cls.only_data(node.config)
    if taken_up is not None:
        # The unstarted row of an earlier engine: the same attempt takes it up (no second row).
        key = ("", node.id)
        ex.history.unstarted[key] = taken_up
        ex.history.attempt_counts[key] = int(taken_up["attempt"]) - 1
    attempt = ex.start_detached(node, node_input, node_policy(node.config), on_finish=_handler_finished,
                                at_once=at_once, durable=True, tries_before=tries_before, retry_in=retry_in)
    if taken_up is not None and retry_in is not None and isinstance(taken_up.get("error"), dict):
        note = taken_up["error"]  # why it retries, as the earlier engine noted it
        ex.rec.retry_note(attempt.row, note.get("previousError"), float(note.get("retryInMs") or 0))


def _pending(ex: ExecutionRun) -> list[dict[str, Any]]:
    return list(ex.extra_state.get("handlers") or [])


def handler_kept(ex: ExecutionRun, attempt: Attempt) -> None:
    """A handler is queued: kept in the state until it ends (before it can start)."""
    ex.extra_state["handlers"] = [*_pending(ex), {"id": attempt.id, "triesBefore": attempt.tries_before}]
    ex.save_state()


def handler_retried(ex: ExecutionRun, failed: Attempt, retry: Attempt) -> None:
    """A handler failed and waits to retry: the state names its new attempt."""
    pending = _pending(ex)
    if any(_entry_id(entry) == failed.id for entry in pending):
        ex.extra_state["handlers"] = [{**entry, "id": retry.id} if _entry_id(entry) == failed.id else entry
                                      for entry in pending]
        ex.save_state()


def _handler_finished(attempt: Attempt) -> None:
    """A handler ended (after its retries): a takeover no longer runs it. A `set` handler
    sets run variables, as the same node does in the flow."""
    ex, output = attempt.ex, attempt.row.get("output")
    pending = _pending(ex)
    kept = [entry for entry in pending if _entry_id(entry) != attempt.id]
    changed = len(kept) != len(pending)
    if changed:
        if kept:
            ex.extra_state["handlers"] = kept
        else:
            ex.extra_state.pop("handlers", None)
    if attempt.status == "succeeded" and attempt.node.type == "set" and isinstance(output, dict):
        ex.variables = {**ex.variables, **output}
        changed = True
    if changed:
        ex.save_state()


def _entry_id(entry: Any) -> Any:
    # An entry is `{"id", "triesBefore"}`; a release before durable handlers kept the bare
    # id of a queued one.
    return entry.get("id") if isinstance(entry, dict) else entry


def pending_handler_ids(state: dict[str, Any]) -> set[Any]:
    """The node run ids of the handlers an execution's stored state says are unfinished."""
    return {_entry_id(entry) for entry in state.get("handlers") or ()}


def requeue_handlers(ex: ExecutionRun) -> None:
    """On a claim: carry on the handlers an earlier engine had not finished, in the order
    they were queued. A queued one is queued again as the same attempt and row; one waiting
    to retry waits for the rest of its delay as the same attempt and row; one that was
    running (its row is recorded as interrupted, engine.core.history) runs again as its
    next attempt. Each keeps the tries its retry policy has left."""
    entries = {_entry_id(entry): entry for entry in ex.extra_state.pop("handlers", None) or ()}
    if not entries:
        return
    rows = sorted((r for r in ex.handler_rows if r.get("id") in entries), key=lambda r: r.get("seq", 0))
    for row in rows:
        if ex.finished:
            break
        if row.get("status") in FINAL:
            continue  # it ended; its end was written before the state forgot it
        entry = entries[row["id"]]
        tries_before = entry.get("triesBefore") if isinstance(entry, dict) else None
        unstarted = row.get("status") in ("queued", "retrying") and not row.get("started_at")
        key = ("", row["node_id"])
        before = ex.history.attempt_counts.get(key, 0)
        run_handler(ex, row["node_id"], row.get("input") if row.get("input") is not None else {},
                    taken_up=cast("NodeRunRow", row) if unstarted else None,
                    tries_before=int(tries_before) if isinstance(tries_before, int) else None,
                    retry_in=_retry_left(row) if unstarted and row.get("status") == "retrying" else None)
        ex.history.attempt_counts[key] = max(before, ex.history.attempt_counts.get(key, 0))
    if not ex.extra_state.get("handlers"):
        ex.save_state()


def _retry_left(row: dict[str, Any]) -> float:
    """Seconds an earlier engine's retrying row still had to wait: its delay (noted on the
    row) counts from when it was made (`queued_at`)."""
    note = row.get("error") if isinstance(row.get("error"), dict) else {}
    delay_ms = note.get("retryInMs") if isinstance(note, dict) else None
    queued_at = row.get("queued_at")
    if not isinstance(delay_ms, (int, float)) or not isinstance(queued_at, datetime):
        return 0.0
    if queued_at.tzinfo is None:
        queued_at = queued_at.replace(tzinfo=UTC)  # a store without time zones keeps UTC
    return max(0.0, (queued_at + timedelta(milliseconds=delay_ms) - now()).total_seconds())


def _pause(ex: ExecutionRun, record: SignalRecord, *, cleanup: bool) -> None:
    reason = record.reason or "paused"
    if cleanup:
        # Interrupt what runs now; each interrupted node run starts again on resume.
        for attempt in list(ex.active.values()):
            if attempt.status == "running" and attempt.loop is None and not attempt.detached:
                ex.restart_attempt(attempt, "interrupted by pause (cleanup)")
    ex.set_status("paused", "execution.paused", reason=reason, data={"reason": reason})


def _resume(ex: ExecutionRun, record: SignalRecord) -> None:
    if isinstance(record.data, dict):
        ex.signal = {**(ex.signal if isinstance(ex.signal, dict) else {}), **record.data}
    elif record.data is not None:
        ex.signal = record.data
    decision = record.data if record.data is not None else {}
    waiting = ex.extra_state.pop("awaiting", None)
    attempt, ex.awaiting = ex.awaiting, None
    if attempt is None and isinstance(waiting, dict):
        # The approval's node run has not started again since a restart: it takes the
        # decision as its output as soon as it runs (see `await_approval`).
        ex.extra_state["granted"] = {"scope": waiting.get("scope", ""), "nodeId": waiting.get("nodeId"),
                                     "data": decision}
    ex.set_status("running", "execution.resumed", data={"data": small(record.data), "sentBy": record.sent_by})
    if attempt is not None:
        ex.complete(attempt, decision, None)
    ex.engine.mark_dirty(ex)


# -- approval waits ---------------------------------------------------------------------------
def await_approval(attempt: Attempt, request: AwaitSignal) -> None:
    """An `approval` node run returned `AwaitSignal`: pause the execution at this node until
    a resume signal (or the approval's own timeout)."""
    ex = attempt.ex
    key = {"scope": attempt.scope.key, "nodeId": attempt.node.id}
    granted = ex.extra_state.get("granted")
    if isinstance(granted, dict) and {"scope": granted.get("scope"), "nodeId": granted.get("nodeId")} == key:
        ex.extra_state.pop("granted")
        ex.save_state()
        ex.complete(attempt, granted.get("data"), None)
        return
    previous = ex.extra_state.get("awaiting")
    same_wait = isinstance(previous, dict) and {"scope": previous.get("scope"), "nodeId": previous.get("nodeId")} == key
    config = attempt.ctx.config if attempt.ctx is not None else attempt.node.config
    deadline: float | None = None
    if same_wait and isinstance(previous, dict):
        deadline = previous.get("deadline")  # a restarted engine keeps the original deadline
    elif attempt.policy.timeout_ms:
        deadline = time.time() + attempt.policy.timeout_ms / 1000
    # The generic node timeout would end the node run but leave the execution paused: the
    # approval handles its own deadline and un-pauses first.
    for timer in attempt.timers:
        timer.cancelled = True
    attempt.timers.clear()
    if deadline is not None:
        remaining = max(0.0, deadline - time.time())
        attempt.timers.append(ex.engine.add_timer(remaining, lambda: _approval_timed_out(attempt), ex))
    approvers = [str(a) for a in (config.get("approvers") or request.approvers or [])]
    ex.awaiting = attempt
    ex.extra_state["awaiting"] = {**key, "nodeRunId": attempt.id, "name": attempt.node.name,
                                  "approvers": approvers, "reason": request.reason, "deadline": deadline}
    announce = not (ex.status == "paused" and same_wait)
    ex.set_status("paused", "execution.paused" if announce else None, reason=request.reason, row=attempt.row,
                  data={"reason": request.reason, "approvers": approvers, "approval": True, "deadline": deadline})


def _approval_timed_out(attempt: Attempt) -> None:
    ex = attempt.ex
    if attempt.status != "running" or ex.finished or ex.awaiting is not attempt:
        return
    ms = attempt.policy.timeout_ms
    ex.awaiting = None
    ex.extra_state.pop("awaiting", None)
    ex.set_status("running", "execution.resumed", row=attempt.row,
                  data={"reason": f"approval timed out after {ms} ms"})
    on_timeout = str(attempt.node.config.get("onTimeout") or "error")
    if on_timeout in APPROVAL_TIMEOUT_DECISIONS:
        ex.complete(attempt, {"approved": APPROVAL_TIMEOUT_DECISIONS[on_timeout], "timedOut": True}, None)
    else:
        ex.timed_out(attempt)  # cancel | continue | error, as for any node
    ex.engine.mark_dirty(ex)


def start_claimed(ex: ExecutionRun) -> None:
    """Start an execution this engine just claimed. One taken over mid-rollback does not
    replay its flow (that could even finish it): it carries on with the compensations
    that are left. One that waited for an approval waits there again (its node run was
    interrupted and queued again by the takeover)."""
    if ex.extra_state.get("rollback"):
        from engine.core.rollback import continue_rollback

        continue_rollback(ex)
        return
    ex.start()
    requeue_handlers(ex)  # unfinished handlers go on (queued while paused: they start on resume)
    waiting = ex.extra_state.get("awaiting")
    if not isinstance(waiting, dict) or ex.status != "paused":
        return
    for attempt in _ready_attempts(ex.ready):
        if attempt.scope.key == waiting.get("scope", "") and attempt.node.id == waiting.get("nodeId"):
            ex.ready.remove(attempt)
            ex.start_attempt(attempt)  # inline: it re-enters `await_approval` right now
            return


def _ready_attempts(ready: Iterable[Attempt]) -> list[Attempt]:
    return [a for a in ready if a.status in ("queued", "retrying")]


def _cancel(ex: ExecutionRun, handler: dict[str, Any], record: SignalRecord) -> None:
    reason = record.reason or "cancelled by signal"
    notify = handler.get("notify") or []
    if notify:
        # Sent once the execution has really ended (after its compensations), so the
        # notice can say how the rollback went; persisted so that a takeover still sends it.
        ex.extra_state["notify"] = {"to": [str(a) for a in notify], "by": record.sent_by or "a signal",
                                    "reason": reason}
        ex.save_state()
    if handler.get("rollback"):
        rollback_and_cancel(ex, reason)  # compensations first, then `cancelled`
    else:
        ex.cancel(reason)
