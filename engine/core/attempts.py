"""The node run attempts of one execution, from start to end: one way an attempt is made
(a node of the flow, a signal handler, a compensation), started, completed, timed out,
retried (one retry loop) and finalized. The execution (engine.core.execution) offers these
as its public methods.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.json_bounds import JSONBoundsError, bounded_error, storable
from engine.core.policies import NodePolicy, retry_delay_ms
from engine.core.scopes import Attempt, ScopeRun
from engine.core.signals import await_approval, handler_kept, handler_retried
from engine.nodes import get_node_type
from engine.nodes.base import AwaitSignal, BranchResult, NodeCancelled, NodeError, Route, Sleep

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun
    from engine.core.graph import Node
    from engine.core.records import NodeRunRow


class NodeRuns:
    def __init__(self, ex: ExecutionRun):
        self.ex = ex

    def new_row(self, scope: ScopeRun, node: Node, attempt: int, status: str, input: Any,
                queued_at: datetime | None = None) -> NodeRunRow:
        key = (scope.key, node.id)
        row = self.ex.rec.new_row(node, scope=scope.key, iteration=scope.iteration, branch=scope.branch_of(node.id),
                                  attempt=attempt, status=status, input=input, queued_at=queued_at,
                                  taken_up=self.ex.history.take_unstarted(key, attempt))
        self.ex.history.recorded.add(key)
        return row

    def new_attempt(self, scope: ScopeRun, node: Node, node_input: Any, policy: NodePolicy, *, status: str = "queued",
                    queued_at: datetime | None = None, detached: bool = False,
                    on_finish: Callable[[Attempt], None] | None = None, tries_before: int | None = None,
                    at_once: bool = False, durable: bool = False, branches: dict[str, Any] | None = None,
                    branch_results: list[BranchResult] | None = None, data: Any = None) -> Attempt:
        """A node run attempt, recorded as queued (or retrying): the one way attempts are made,
        for the flow's nodes (`Flow.node_ready`) and for detached ones (`start_detached`)."""
        attempt_no = self.ex.history.next_attempt((scope.key, node.id))
        row = self.new_row(scope, node, attempt_no, status, node_input, queued_at)
        attempt = Attempt(row["id"], self.ex, scope, node, attempt_no, row, policy, node_input, status=status,
                          branches=branches or {}, branch_results=branch_results or [], detached=detached,
                          on_finish=on_finish, at_once=at_once, durable=durable,
                          tries_before=attempt_no - 1 if tries_before is None else tries_before)
        self.ex.active[attempt.id] = attempt
        self.ex.rec.event("node.queued" if status == "queued" else "node.retrying", row, data=data)
        return attempt

    def start_detached(self, node: Node, node_input: Any, policy: NodePolicy, *,
                       on_finish: Callable[[Attempt], None] | None = None, data: Any = None,
                       at_once: bool = False, durable: bool = False, tries_before: int | None = None,
                       retry_in: float | None = None) -> Attempt:
        """Run one node outside the flow while the execution goes on or winds down (a custom
        signal handler, a compensation): top-level scope, visible on the timeline, retried
        by its policy like any node (`fail_attempt`). `at_once`: start it (and its retries)
        when due even while the execution does not dispatch (a rollback), instead of
        queueing it. `durable`: kept in the execution's state until it ends (a custom
        handler, engine.core.signals), before it can start. A takeover carries on a retry
        series: `tries_before` is where the series began, and with `retry_in` (seconds) the
        attempt waits to retry for that long first."""
        attempt = self.new_attempt(self.ex.top, node, node_input, policy, detached=True, on_finish=on_finish, data=data,
                                   at_once=at_once, durable=durable, tries_before=tries_before,
                                   status="queued" if retry_in is None else "retrying")
        if durable:
            handler_kept(self.ex, attempt)
        if retry_in is not None:
            self._when_due(attempt, retry_in)
        elif at_once:
            self.start_attempt(attempt)
        else:
            self.ex.ready.append(attempt)
            self.ex.engine.mark_dirty(self.ex)
        return attempt

    def start_attempt(self, attempt: Attempt) -> None:
        """Run a queued attempt now: inline, or handed to the executor."""
        node = attempt.node
        cls = get_node_type(node.type)
        if cls is None:  # validated on save; a type removed since then
            self.fail_attempt(attempt, {"message": f"unknown node type {node.type!r}"}, retryable=False)
            return
        attempt.impl = cls()
        attempt.status = "running"
        attempt.holds_slot = True
        self.ex.in_flight += 1
        row = attempt.row
        attempt.started_mono, started_at = self.ex.engine.start_stamp(row["queued_at"])
        pins = self.ex.pinned
        if pins and node.id in pins and cls.pinnable and not attempt.detached:
            # Pinned test data: the body is never run (nor handed to a Celery worker); the
            # node run succeeds at once with the pin as its output, in every loop item too.
            row["pinned"] = True
            reused = self.ex.extra_state.get("reused")  # an earlier run's outputs (engine.reuse): named
            data = ({"pinned": True, "reusedFrom": reused["from"]}
                    if isinstance(reused, dict) and node.id in (reused.get("nodes") or ()) else {"pinned": True})
            self.ex.rec.started(row, started_at, self.ex.engine.engine_id, data=data)
            self.complete(attempt, pins[node.id], None)
            return
        self.ex.rec.started(row, started_at, self.ex.engine.engine_id)
        try:
            ctx = attempt.context(cls)
        except Exception as exc:  # noqa: BLE001 - a template error fails this node run
            self.complete(attempt, None, NodeError(f"template error: {exc}", retryable=False))
            return
        attempt.ctx = ctx
        ctx.log_sink = lambda message: self.ex.engine.post_log(attempt, message)
        if attempt.policy.timeout_ms:
            attempt.timers.append(self.ex.engine.add_timer(attempt.policy.timeout_ms / 1000,
                                                           lambda: self.timed_out(attempt), self.ex))
        if cls.runs_inline(ctx.config):
            try:
                value = attempt.impl.run(ctx)
            except BaseException as exc:  # noqa: BLE001 - any failure of a node is its own
                self.complete(attempt, None, exc)
            else:
                self.complete(attempt, value, None)
        else:
            self.ex.rec.claim(row)
            self.ex.engine.submit_work(attempt)

    def complete(self, attempt: Attempt, value: Any, exc: BaseException | None) -> None:
        """A node run returned (or raised); apply its policies."""
        if attempt.status != "running":
            return  # timed out or cancelled meanwhile: a late result is ignored
        if exc is not None:
            if isinstance(exc, NodeCancelled) or (attempt.ctx is not None and attempt.ctx.cancelled.is_set()):
                self.finalize(attempt, "cancelled", error={"message": "cancelled"})
            elif isinstance(exc, NodeError):
                self.fail_attempt(attempt, exc.as_dict(), retryable=exc.retryable)
            else:
                self.fail_attempt(attempt, {"message": f"{type(exc).__name__}: {exc}"}, retryable=True)
            return
        if isinstance(value, Sleep):
            wake_output = value.output
            due = attempt.started_mono + max(0.0, value.duration_ms) / 1000  # from the recorded start
            attempt.timers.append(
                self.ex.engine.add_timer(max(0.0, due - self.ex.engine.clock()),
                                         lambda: self.complete(attempt, wake_output, None), self.ex)
            )
            return
        if isinstance(value, AwaitSignal):
            await_approval(attempt, value)  # the execution pauses until a resume signal
            return
        handle = None
        if isinstance(value, Route):
            value, handle = value.output, value.handle
        try:
            # Whatever a node returns is checked here, once for every node type: a NaN or
            # a value nested 950 deep fails this node run, not the shared write (or every
            # later read) of it.
            options = self.ex.engine.options
            value = storable(value, max_depth=options.output_max_depth, what="the node's output",
                             max_bytes=options.output_max_bytes)
        except JSONBoundsError as exc:
            self.fail_attempt(attempt, {"message": f"output refused: {exc}", "kind": "invalid_output"},
                              retryable=False)
            return
        self.finalize(attempt, "succeeded", output=value, handle=handle)

    def timed_out(self, attempt: Attempt) -> None:
        if attempt.status != "running":
            return
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        if attempt.loop is not None:
            attempt.loop.cancel("timeout")
        ms = attempt.policy.timeout_ms
        error = {"message": f"timed out after {ms} ms", "timeout": True}
        if attempt.policy.on_timeout == "continue":
            self.finalize(attempt, "succeeded", output={"timedOut": True})
        elif attempt.policy.on_timeout == "cancel":
            self.finalize(attempt, "timed_out", error=error)
        else:
            self.fail_attempt(attempt, error, retryable=True, status="timed_out")

    def fail_attempt(self, attempt: Attempt, error: dict[str, Any], *, retryable: bool, status: str = "failed") -> None:
        """The one retry loop, for every attempt: again after the policy's delay while tries
        are left, else its `onError`. A node of the flow counts its tries from its branch's
        latest run; a detached one from its first attempt."""
        error = bounded_error(error)
        policy = attempt.policy
        if attempt.detached:
            tries = attempt.attempt - attempt.tries_before
        else:
            tries = attempt.attempt - self.ex.history.retry_base.get((attempt.scope.key, attempt.node.id), 0)
        if retryable and tries < policy.max_attempts and not self.ex.finished and self.ex.cancelled_reason is None:
            self.finalize(attempt, status, error=error, propagate=False)
            delay = retry_delay_ms(policy.retry, tries if attempt.detached else attempt.attempt)
            nxt = self._retry(attempt)
            self.ex.rec.retry_note(nxt.row, error, delay)
            self._when_due(nxt, delay / 1000)
            return
        if not retryable and tries < policy.max_attempts:
            # Say why a configured retry did not happen: the same input fails the same way.
            error = {**error, "notRetried": "this error cannot change on a retry (invalid code or config)"}
        if policy.on_error == "continue":
            self.finalize(attempt, "succeeded", output={"error": error})
        elif policy.on_error == "route":
            self.finalize(attempt, status, output={"error": error}, error=error, handle="error")
        else:
            self.finalize(attempt, status, error=error)

    def _when_due(self, attempt: Attempt, delay_s: float) -> None:
        """A retrying attempt goes on after its delay: queued, or started (`at_once`)."""
        def go() -> None:
            if attempt.status != "retrying":
                return
            if attempt.at_once:
                self.start_attempt(attempt)
            else:
                self.ex.ready.append(attempt)
                self.ex.engine.mark_dirty(self.ex)

        attempt.timers.append(self.ex.engine.add_timer(delay_s, go, self.ex))

    def _retry(self, attempt: Attempt) -> Attempt:
        """The next attempt of a failed one, recorded as retrying (its timer queues it)."""
        if attempt.detached:
            nxt = self.new_attempt(self.ex.top, attempt.node, attempt.input, attempt.policy, status="retrying",
                                   detached=True, on_finish=attempt.on_finish, tries_before=attempt.tries_before,
                                   at_once=attempt.at_once, durable=attempt.durable)
            if attempt.durable:
                handler_retried(self.ex, attempt, nxt)
            return nxt
        self.ex.flow.node_ready(attempt.scope, attempt.node.id, retry_of=attempt)
        return attempt.scope.attempts[attempt.node.id]

    def finalize(
        self,
        attempt: Attempt,
        status: str,
        *,
        output: Any = None,
        error: Any = None,
        handle: str | None = None,
        propagate: bool = True,
    ) -> None:
        """Record the end of an attempt, free its slot, and tell whom it concerns: the
        scheduler (a node of the flow) or its `on_finish` (a detached one)."""
        if not attempt.active:
            return
        attempt.status = status
        for timer in attempt.timers:
            timer.cancelled = True
        # Leave no reference cycle behind (a timer's callback and the log sink's closure
        # hold the attempt): finished node runs are then freed as soon as nothing needs
        # them, instead of piling up for the garbage collector, whose passes over them
        # stall the coordinator.
        attempt.timers = []
        if attempt.ctx is not None and not self.ex.engine.on_worker(attempt.id):
            attempt.ctx.log_sink = None  # its body has returned: nothing will log any more
        if attempt.holds_slot:
            attempt.holds_slot = False
            self.ex.in_flight -= 1
            if self.ex.ready:
                self.ex.engine.mark_dirty(self.ex)
        self.ex.active.pop(attempt.id, None)
        self.ex.rec.ended(attempt.row, status, output=output, error=error, handle=handle)
        if not propagate:
            return
        if attempt.detached:
            if attempt.on_finish is not None:
                attempt.on_finish(attempt)
            if not self.ex.finished and self.ex.status in ("running", "paused"):  # not mid-rollback
                self.ex.flow.check_scope(self.ex.top)  # the flow may have waited for this handler
            return
        self.ex.flow.ended(attempt, status, output, error, handle)

    def cancel_attempt(self, attempt: Attempt, reason: str) -> None:
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        if attempt.loop is not None:
            attempt.loop.cancel(reason)
        self.finalize(attempt, "cancelled", error={"message": reason})

    def cancel_attempt_quiet(self, attempt: Attempt, reason: str) -> None:
        """Cancel without telling the scheduler (nothing follows from this end)."""
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        if attempt.loop is not None:
            attempt.loop.stopped = True
        self.finalize(attempt, "cancelled", error={"message": reason}, propagate=False)

    def restart_attempt(self, attempt: Attempt, reason: str) -> None:
        """Interrupt a running node run of the flow and queue it again (a pause with cleanup)."""
        scope, node_id = attempt.scope, attempt.node.id
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        self.finalize(attempt, "cancelled", error={"message": reason}, propagate=False)
        scope.attempts.pop(node_id, None)
        self.ex.flow.node_ready(scope, node_id)
