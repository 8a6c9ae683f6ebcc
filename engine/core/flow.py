"""The flow of one execution: turning the scope schedulers' decisions (`Actions`) into node
runs — queued, replayed from an earlier engine, skipped, held back in a burst — and
telling the schedulers how each node run ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.clocks import clock_starts, time_left
from engine.core.loops import begin_loop
from engine.core.pacing import HOLD_BURST_OVER
from engine.core.persistence import now
from engine.core.policies import node_policy
from engine.core.rollback import note_succeeded
from engine.core.scheduler import Actions, Outcome
from engine.core.scopes import Attempt, ScopeRun

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun
    from engine.core.graph import Node
    from engine.core.records import NodeRunRow


class Flow:
    def __init__(self, ex: ExecutionRun, rows: Iterable[dict[str, Any]] = ()):
        self.ex = ex
        # Sections whose `totalTimeout` an earlier engine started: (scope key, join) -> when
        # (engine.core.clocks); taken once, when the section's deadline opens again.
        self.opened: dict[tuple[str, str], float] = {}
        watched = {n: joins for plan in ex.plan.scopes.values() for n, joins in plan.deadline_joins.items()}
        if watched:
            self.opened = clock_starts(rows, watched, since=ex.redrive_since)

    def node_ready(self, scope: ScopeRun, node_id: str, *, retry_of: Attempt | None = None,
                   queued_at: datetime | None = None) -> None:
        ex = self.ex
        node = ex.plan.graph.nodes[node_id]
        key = (scope.key, node_id)
        replayed = ex.history.replay.pop(key, None) if retry_of is None else None
        if replayed is not None:
            self._replay(scope, node, replayed)
            return
        for join in scope.plan.deadline_joins.get(node_id, ()):
            self._open_deadline(scope, join)
        if scope.plan.branch_first.get(node_id):
            if retry_of is None and ex.branches.held_back(scope, node_id):
                return  # a branch's back-off that a restart interrupted: its timer makes it ready
            for spec in scope.plan.branch_first[node_id]:
                ex.branches.open(scope, spec)
        node_input, branches, branch_results = scope.inputs(node_id)
        policy = scope.plan.node_policies.get(node_id)
        if policy is None:  # per version, not per run
            # A node's own settings only: the branch's hold for the branch as a whole.
            policy = scope.plan.node_policies[node_id] = node_policy(node.config)
        status = "retrying" if retry_of is not None else "queued"
        attempt = ex.runs.new_attempt(scope, node, node_input, policy, status=status, queued_at=queued_at,
                                 branches=branches, branch_results=branch_results)
        scope.attempts[node_id] = attempt
        if retry_of is not None:
            return  # the retry timer moves it to the ready queue
        if node.type == "loop":
            begin_loop(ex.engine, attempt)
            return
        ex.ready.append(attempt)
        ex.engine.mark_dirty(ex)

    def _open_deadline(self, scope: ScopeRun, join: str) -> None:
        """Start a section's `totalTimeout` clock when its first branch node is ready."""
        if join in scope.deadlines:
            return
        scope.deadlines.add(join)
        policy = scope.plan.policies[join]
        assert policy.total_timeout_ms is not None
        collect = policy.on_total_timeout == "collect_partial"

        def expire() -> None:
            if not self.ex.finished and not scope.done:
                self.apply(scope, scope.sched.section_timed_out(join, collect))

        # Opened by an engine that stopped: what is left of it (none: at once, after this pass).
        started = self.opened.pop((scope.key, join), None) if self.opened else None
        self.ex.engine.add_timer(time_left(started, policy.total_timeout_ms / 1000), expire, self.ex)

    def replayed_values(self, scope: ScopeRun, node_id: str, row: NodeRunRow) -> None:
        """What a node run an earlier engine finished leaves behind: its output, variables,
        loop alias, and its compensation to run on a rollback."""
        ex = self.ex
        node = ex.plan.graph.nodes[node_id]
        if row["status"] == "succeeded":
            note_succeeded(ex, node, row)
        if row["status"] == "succeeded" or (row.get("handle") or None) == "error":
            scope.outputs[node.id] = row.get("output")
            if node.type == "set" and isinstance(row.get("output"), dict):
                ex.variables = {**ex.variables, **row["output"]}
            if node.type == "loop":
                alias = (node.config or {}).get("outputVariable")
                if alias:
                    scope.aliases[alias] = node.id

    def _replay(self, scope: ScopeRun, node: Node, row: NodeRunRow) -> None:
        ex = self.ex
        if scope.plan.branch_member and ex.branches.replay_ended(scope, node.id, row):
            return  # a branch that had ended by its own settings: its end replays whole
        outcome = Outcome(row["status"], row.get("output"), row.get("error"), row.get("handle") or None)
        self.replayed_values(scope, node.id, row)
        for spec in scope.plan.branch_first.get(node.id, ()):
            # A branch an earlier engine began: its timeout still runs (from its real start).
            ex.branches.open(scope, spec)
        self.apply(scope, scope.sched.finish(node.id, outcome))
        if scope.plan.branch_member:
            ex.branches.settled(scope, node.id)  # the whole branch had ended: no clock runs

    def ended(self, attempt: Attempt, status: str, output: Any, error: Any, handle: str | None) -> None:
        """Tell the scheduler how a node run of the flow ended, and act on its decisions."""
        ex = self.ex
        if status == "succeeded":
            note_succeeded(ex, attempt.node, attempt.row)
        scope = attempt.scope
        if scope.attempts.get(attempt.node.id) is attempt:
            del scope.attempts[attempt.node.id]
        if status in ("failed", "timed_out") and handle != "error" and scope.plan.branch_member:
            branch = ex.branches.failing(scope, attempt.node.id)
            if branch is not None:
                ex.branches.failed(scope, branch, error)
                return
        if status == "succeeded" or handle == "error":
            scope.outputs[attempt.node.id] = output
            if attempt.node.type == "set" and isinstance(output, dict):
                ex.variables = {**ex.variables, **output}
                ex.save_state()
        self.apply(scope, scope.sched.finish(attempt.node.id, Outcome(status, output, error, handle)))
        if scope.plan.branch_member:
            ex.branches.settled(scope, attempt.node.id)

    def record_settled(self, scope: ScopeRun, node_id: str, status: str, error: Any) -> None:
        """A node that ends without running (skipped, or a join whose section failed)."""
        ex = self.ex
        history = ex.history
        key = (scope.key, node_id)
        if key in history.recorded and key not in history.replay:
            return
        earlier = history.replay.pop(key, None)
        if earlier is not None and earlier["status"] == status:
            return  # recorded so by an earlier engine (a restart, a redrive): no second row
        node = ex.plan.graph.nodes[node_id]
        row = ex.runs.new_row(scope, node, history.attempt_counts.get(key, 0) + 1, status, None)
        ex.rec.settled(row, error)

    def apply(self, scope: ScopeRun, actions: Actions) -> None:
        ex = self.ex
        if ex.run_until is not None and scope is ex.top:
            ex.run_until.leave_out(scope, actions)
        if ex.held:
            self.take_up_held()  # whatever happens next (a cancel, a join) sees every node run
        ready = actions.ready
        free = ex.plan.max_concurrency - ex.in_flight - len(ex.ready)
        if len(ready) > HOLD_BURST_OVER and len(ready) > free and scope is ex.top and not ex.history.replay \
                and ex.status == "running":
            # A burst (engine.core.pacing): queue as many node runs as can start now; the
            # rest are queued in chunks while they run (stamped with this moment, when they
            # became ready), and all at once before anything else happens to this execution
            # (a completion, a cancel). An engine that stops meanwhile loses nothing: the one
            # that resumes finds them ready again from the finished node runs.
            ready, held_at = ready[:max(free, 0)], now()
            ex.held.extend((node_id, held_at) for node_id in actions.ready[len(ready):])
            ex.engine.mark_dirty(ex)
        for node_id in ready:
            self.node_ready(scope, node_id)
        for node_id, reason in actions.skipped:
            self.record_settled(scope, node_id, "skipped", {"message": reason})
        for node_id, reason in actions.cancel:
            attempt = scope.attempts.get(node_id)
            if attempt is not None:
                ex.runs.cancel_attempt(attempt, reason)
        for node_id, error in actions.join_failed:
            self.record_settled(scope, node_id, "failed", error)
            self.apply(scope, scope.sched.finish(node_id, Outcome("failed", error=error)))
        self.check_scope(scope)

    def take_up_held(self, limit: int | None = None) -> None:
        """Queue the node runs of a burst that `apply` held back (at most `limit` of them)."""
        ex = self.ex
        taken = 0
        events = ex.rec.event_count()
        while ex.held and (limit is None or taken < limit):
            node_id, held_at = ex.held.popleft()
            self.node_ready(ex.top, node_id, queued_at=held_at)
            taken += 1
        # Their `node.queued` events must not hold back the next wave of the burst itself
        # (a 400-wide fan-out queues ~400 events at once, four times the bound).
        ex.rec.unpaced_since(events)

    def check_scope(self, scope: ScopeRun) -> None:
        ex = self.ex
        if scope.done or not scope.sched.finished or scope.attempts:
            return
        if ex.lingering and any(loop.attempt.scope is scope for loop in ex.lingering):
            return
        if scope is ex.top and scope.on_done is None and ex.extra_state.get("handlers"):
            # A custom signal's handler is queued (node work taken while paused starts on
            # resume): the run waits for it. Ended here, a paused run went to succeeded on its
            # own and the accepted handler never ran. Its end checks again (Attempts.finalize).
            return
        scope.done = True
        if scope.on_done is not None:
            scope.on_done(scope)
        elif scope is ex.top:
            ex.finish()
