"""Branches with settings of their own (SPEC §4.3: `edges[].branch` holds for the branch as a
whole): a branch's timeout runs from its first node's start to its last node's end, and a
failed branch is retried from its first node or settled by its `onError`.

A branch retry survives a restart: its attempt, where its nodes' attempt numbers stood when
it began, and when its back-off ends are kept in the execution's state (`branchRetries`,
scope key -> fan-out edge id -> that), written before the retry is announced. An engine that
resumes the execution runs the branch's current attempt from its start (the earlier
attempts' node runs are history, not replayed), at the attempt it had reached and not
before its back-off ends.

A branch's timeout survives a restart too: its clock runs from the moment its first node
became ready, which is its node run's `queued_at` (written in the same atomic flush as the
`node.queued` event that announces it). An engine that resumes the execution arms the
branch's timer for the time that is left, counted from the earliest node run of the first
node in the branch's current attempt, and applies `onTimeout` at once when none is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.core.clocks import clock_starts, time_left
from engine.core.policies import retry_delay_ms
from engine.core.records import small
from engine.core.scheduler import BranchSpec, EdgeResult

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun
    from engine.core.records import NodeRunRow
    from engine.core.scopes import BranchRun, ScopeRun


def _message(error: Any) -> str:
    return str(error.get("message")) if isinstance(error, dict) and error.get("message") else str(error)


class WholeBranches:
    """The branch runs of one execution, driven by its node runs' ends and its timers."""

    def __init__(self, ex: ExecutionRun, rows: Iterable[dict[str, Any]] = ()):
        self.ex = ex
        # Back-offs an earlier engine started and did not see end: (scope key, edge id) -> due
        # (wall-clock seconds). Taken once, when the branch's first node becomes ready again.
        self.due: dict[tuple[str, str], float] = {}
        # Timed branches an earlier engine opened: (scope key, edge id) -> when (wall-clock
        # seconds). Taken once, when the branch opens again (its first node is ready or
        # replays its end).
        self.opened: dict[tuple[str, str], float] = {}
        self._restore()
        self._restore_clocks(rows)

    # -- across a restart ----------------------------------------------------------------------
    def _saved(self) -> dict[str, dict[str, dict[str, Any]]]:
        saved = self.ex.extra_state.get("branchRetries")
        return saved if isinstance(saved, dict) else {}

    def _restore(self) -> None:
        """Make the history fit the branches that were retrying: a node run of an earlier
        attempt of its branch is not replayed (the branch runs again from its first node), and
        a node's own retries count from its branch's current attempt."""
        history = self.ex.history
        for scope_key, runs in self._saved().items():
            for edge_id, saved in runs.items():
                for node_id, base in (saved.get("base") or {}).items():
                    key = (scope_key, node_id)
                    history.retry_base[key] = int(base)
                    row = history.replay.get(key)
                    if row is not None and row["attempt"] <= int(base):
                        del history.replay[key]
                if saved.get("dueAt") is not None:
                    self.due[(scope_key, edge_id)] = float(saved["dueAt"])

    def _restore_clocks(self, rows: Iterable[dict[str, Any]]) -> None:
        """When each timed branch of the current attempt began, from the earlier engines'
        node runs of its first node (engine.core.clocks)."""
        timed: dict[str, list[str]] = {}  # first node -> the timed branches it opens
        for plan in self.ex.plan.scopes.values():
            for node_id, specs in plan.branch_first.items():
                if any(s.timeout_ms for s in specs):
                    timed[node_id] = [s.edge.id for s in specs if s.timeout_ms]
        if timed:  # the common case has no timed branch: nothing to look at
            self.opened = clock_starts(rows, timed, since=self.ex.redrive_since, base=self.ex.history.retry_base)

    def saved_attempt(self, scope: ScopeRun, spec: BranchSpec) -> int:
        saved = self._saved().get(scope.key, {}).get(spec.edge.id)
        return int(saved["attempt"]) if saved else 1

    def held_back(self, scope: ScopeRun, node_id: str) -> bool:
        """The first node of a branch whose back-off a restart interrupted is ready again: it
        waits for what is left of the back-off (its timer makes it ready again)."""
        if not self.due:
            return False
        for spec in scope.plan.branch_first.get(node_id, ()):
            due = self.due.pop((scope.key, spec.edge.id), None)
            wait = (due or 0.0) - time.time()
            if wait > 0:
                self.ex.engine.add_timer(wait, partial(self._again, scope, spec), self.ex)
                return True
        return False

    def _again(self, scope: ScopeRun, spec: BranchSpec) -> None:
        if not self.ex.finished and not scope.done and self.ex.cancelled_reason is None:
            self.ex.flow.node_ready(scope, spec.first)

    def _remember(self, scope: ScopeRun, run: BranchRun, delay_ms: float) -> None:
        """Persist a branch retry (before it is announced)."""
        spec, history = run.spec, self.ex.history
        runs = self.ex.extra_state.setdefault("branchRetries", {}).setdefault(scope.key, {})
        runs[spec.edge.id] = {
            "attempt": run.attempt,
            "base": {n: history.retry_base.get((scope.key, n), 0) for n in spec.order},
            "dueAt": round(time.time() + delay_ms / 1000, 3),
        }
        self.ex.save_state()

    def _forget(self, scope: ScopeRun, run: BranchRun) -> None:
        """The branch has ended: nothing of its retries needs to survive a restart any more."""
        if run.attempt == 1:
            return  # never retried: nothing was saved (the common case costs no write)
        saved = self._saved()
        runs = saved.get(scope.key)
        if not runs or runs.pop(run.spec.edge.id, None) is None:
            return
        if not runs:
            del saved[scope.key]
        if not saved:
            del self.ex.extra_state["branchRetries"]
        self.ex.save_state()

    # -- running -----------------------------------------------------------------------------

    def open(self, scope: ScopeRun, spec: BranchSpec) -> None:
        """The branch's first node is ready: its timeout runs from now to its last node's end."""
        run = scope.branch_run(spec)
        if run.started or run.done:
            return
        run.started = True
        if spec.timeout_ms:
            attempt_no = run.attempt
            # Opened by an engine that stopped: what is left of its time, maybe none (the timer
            # then fires once this pass has replayed what had already ended).
            opened = self.opened.pop((scope.key, spec.edge.id), None) if self.opened else None
            delay = time_left(opened, spec.timeout_ms / 1000)
            run.timer = self.ex.engine.add_timer(delay, lambda: self.timed_out(scope, run, attempt_no))

    def timed_out(self, scope: ScopeRun, run: BranchRun, attempt_no: int) -> None:
        spec = run.spec
        if run.done or run.attempt != attempt_no or self.ex.finished or scope.done or scope.sched.branch_finished(spec):
            return
        error = {"message": f"branch {spec.name} timed out after {spec.timeout_ms} ms", "timeout": True,
                 "branch": spec.name}
        if spec.on_timeout == "continue":
            self.stop(scope, spec, "succeeded", output={"timedOut": True})
            self.end(scope, run, EdgeResult("ok", {"timedOut": True}))
            return
        self.stop(scope, spec, "timed_out", error=error)
        if spec.on_timeout == "cancel":
            self.end(scope, run, EdgeResult("failed", error=error))
        else:
            self.failed(scope, run, error)

    def stop(self, scope: ScopeRun, spec: BranchSpec, status: str, *, output: Any = None,
           error: Any = None) -> None:
        """End what runs (or waits for a retry) in the branch, without telling the scheduler."""
        for node_id in spec.order:
            attempt = scope.attempts.get(node_id)
            if attempt is None or not attempt.active:
                continue
            if attempt.ctx is not None:
                attempt.ctx.cancel()
            if attempt.loop is not None:
                attempt.loop.cancel(str((error or {}).get("message") or "branch ended"))
            if attempt.status != "running" and status == "succeeded":
                status, output = "cancelled", None  # it never ran: it did not succeed
            self.ex.runs.finalize(attempt, status, output=output, error=error, propagate=False)
            del scope.attempts[node_id]
            if status == "succeeded":
                scope.outputs[node_id] = output

    def failing(self, scope: ScopeRun, node_id: str) -> BranchRun | None:
        """The innermost branch of this node whose own settings decide about a failure."""
        for spec in reversed(scope.plan.branch_member.get(node_id, ())):
            if spec.max_attempts > 1 or spec.on_error != "fail":
                run = scope.branch_run(spec)
                return None if run.done else run
        return None

    def failed(self, scope: ScopeRun, run: BranchRun, error: Any) -> None:
        """The branch failed (a node failed after its own retries, or the branch timed out
        with onTimeout `error`): retry it from its first node, else apply its onError."""
        spec = run.spec
        self.stop(scope, spec, "cancelled", error={"message": f"branch {spec.name} failed"})
        if run.attempt < spec.max_attempts and not self.ex.finished and self.ex.cancelled_reason is None:
            delay = retry_delay_ms(spec.retry, run.attempt)
            if run.timer is not None:
                run.timer.cancelled = True
            run.attempt += 1
            run.started = False
            history = self.ex.history
            for node_id in spec.order:
                history.retry_base[(scope.key, node_id)] = history.attempt_counts.get((scope.key, node_id), 0)
            scope.sched.reset_branch(spec)
            # Branches nested in it run again from scratch too (their clocks, their ends).
            ends = (self.ex.extra_state.get("branchEnds") or {}).get(scope.key) or {}
            for node_id in spec.order:
                for inner in scope.plan.branch_first.get(node_id, ()):
                    if inner is not spec:
                        scope.branch_runs.pop(inner.edge.id, None)
                        ends.pop(inner.edge.id, None)
            self._remember(scope, run, delay)
            self.ex.rec.event("log", status=self.ex.status, data={
                "message": f"branch {spec.name} failed ({_message(error)}); running it again from "
                           f"{spec.first} in {round(delay)} ms (attempt {run.attempt} of {spec.max_attempts})",
                "branch": spec.name, "attempt": run.attempt, "error": small(error)})

            self.ex.engine.add_timer(delay / 1000, lambda: self._again(scope, spec), self.ex)
            return
        if spec.on_error == "continue":
            self.end(scope, run, EdgeResult("ok", {"error": error}))
        else:
            self.end(scope, run, EdgeResult("failed", error=error))

    def end(self, scope: ScopeRun, run: BranchRun, result: EdgeResult, *, replayed: bool = False) -> None:
        """The branch ended by its own settings (a timeout, a failure): the join sees
        `result`. Kept in state (`branchEnds`) until the execution ends, written with (not
        after) what follows from it: its node runs alone do not say it (a node stopped by
        the timeout, the nodes after it skipped, a failure that `onError` turned into a
        success)."""
        run.done = True
        if run.timer is not None:
            run.timer.cancelled = True
        self._forget(scope, run)
        if not replayed:
            ends = self.ex.extra_state.setdefault("branchEnds", {}).setdefault(scope.key, {})
            ends[run.spec.edge.id] = {"kind": result.kind, "data": result.data, "error": result.error}
            self.ex.save_state()
        self.ex.apply(scope, scope.sched.settle_branch(run.spec, result))

    def replay_ended(self, scope: ScopeRun, node_id: str, row: NodeRunRow) -> bool:
        """A node run that an earlier engine finished replays: if it is in a branch that had
        ended by its own settings, the branch's end replays as a whole (its node runs are
        history), and the join sees what it saw."""
        ends = (self.ex.extra_state.get("branchEnds") or {}).get(scope.key)
        if not ends:
            return False
        for spec in scope.plan.branch_member.get(node_id, ()):  # outermost first
            end = ends.get(spec.edge.id)
            if end is None:
                continue
            replay, flow = self.ex.history.replay, self.ex.flow
            flow.replayed_values(scope, node_id, row)
            for member in spec.order:
                earlier = replay.pop((scope.key, member), None)
                if earlier is not None:
                    flow.replayed_values(scope, member, earlier)
            run = scope.branch_run(spec)
            run.started = True
            self.end(scope, run, EdgeResult(end["kind"], end.get("data"), end.get("error")), replayed=True)
            return True
        return False

    def scope_ended(self, scope: ScopeRun) -> None:
        """A loop item's scope run has ended for good: what its branches' ends were is no
        longer needed (the execution's state does not grow with the items)."""
        ends = self.ex.extra_state.get("branchEnds")
        if ends and ends.pop(scope.key, None) is not None and not ends:
            del self.ex.extra_state["branchEnds"]

    def settled(self, scope: ScopeRun, node_id: str) -> None:
        """A node of a timed branch ended: when the whole branch has, its clock stops."""
        for spec in scope.plan.branch_member.get(node_id, ()):
            run = scope.branch_runs.get(spec.edge.id)
            if run is not None and not run.done and scope.sched.branch_finished(spec):
                run.done = True
                if run.timer is not None:
                    run.timer.cancelled = True
                self._forget(scope, run)
