"""The scheduler of one scope run (the top-level graph, or one loop item's body).

In the spirit of `graphlib.TopologicalSorter`, it only keeps counters and states and tells
the caller what to do next; it never runs anything, sleeps or persists. Steps:

1. `start()` returns the entry nodes (SPEC §4.1: nothing waits for a wave).
2. The caller runs ready nodes and reports each result with `finish(node, outcome)`.
3. `finish` settles the node's outgoing edges: `ok` (carrying the output), `skipped`
   (the other side of a condition, or routed errors), or `failed` (a failure on its way
   to the join that governs it). Each settled edge decrements its target's counter; a
   target whose counter reaches zero (or a race join whose rule already holds) is ready.
4. The returned `Actions` say which nodes became ready, which were skipped or cancelled,
   which joins failed without running, and whether the scope as a whole failed.

Work per finished node is O(out-degree) plus, for a race join that fires, the size of its
section (the nodes it cancels).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.core.graph import Edge
from engine.core.plan import DONE, PENDING, READY, RUNNING, BranchSpec, ScopePlan
from engine.core.policies import JoinPolicy, section_verdict

# ScopePlan and BranchSpec (what the scheduler reads, computed once per version) live in
# engine.core.plan; they stay importable from here, next to the scheduler that uses them.
__all__ = ["Actions", "BranchSpec", "EdgeResult", "Outcome", "ScopePlan", "ScopeScheduler"]


@dataclass
class Outcome:
    """How a node run ended, as the scheduler needs to know it."""

    status: str  # succeeded | failed | skipped | cancelled | timed_out
    output: Any = None
    error: Any = None
    handle: str | None = None  # route chosen by a condition, or "error" for onError=route

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


@dataclass
class EdgeResult:
    kind: str  # ok | skipped | failed | cancelled
    data: Any = None
    error: Any = None
    # failed: the node whose failure this carries (the join names it in `branchErrors`; the
    # nodes after it on the branch were skipped, so the edge into the join is not the one)
    node: str | None = None


def _naming_node(result: EdgeResult) -> Any:
    """A failed branch's error as its join lists it: with the id of the node that failed, so
    that a reader (the API, the run page) can tell its branch without searching node runs."""
    if result.node and isinstance(result.error, dict):
        return {"nodeId": result.node, **result.error}
    return result.error


@dataclass
class Actions:
    ready: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (node, reason)
    cancel: list[tuple[str, str]] = field(default_factory=list)  # (node, reason): running or ready
    join_failed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scope_failed: dict[str, Any] | None = None

    def extend(self, other: Actions) -> None:
        self.ready += other.ready
        self.skipped += other.skipped
        self.cancel += other.cancel
        self.join_failed += other.join_failed
        if other.scope_failed and not self.scope_failed:
            self.scope_failed = other.scope_failed


class ScopeScheduler:
    def __init__(self, plan: ScopePlan):
        self.plan = plan
        # Copies of per-plan templates: a loop starts one scheduler per item.
        self.state: dict[str, str] = plan.initial_state.copy()
        self.remaining: dict[str, int] = plan.initial_remaining.copy()
        self.edge_results: dict[str, EdgeResult] = {}
        # Per join: how many inputs settled of each kind, kept up to date edge by edge so
        # that a join of n branches costs O(1) per arriving branch, not O(n).
        self.join_counts: dict[str, dict[str, int]] = {j: {} for j in plan.joins}
        self.fired: set[str] = set()  # race joins that already went on
        self.cancelled_sections: set[str] = set()  # joins whose section cancelOnFailure cut
        # Nodes of sections that failed fast without cancelOnFailure: they run to their end
        # even when the failure fails the whole scope (their results stay on the timeline).
        self.let_finish: set[str] = set()
        self.settled = 0
        self.failed: dict[str, Any] | None = None

    # -- queries ---------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.settled >= len(self.state)

    def inputs(self, node: str) -> list[tuple[Edge, EdgeResult]]:
        return [(e, self.edge_results[e.id]) for e in self.plan.in_edges[node] if e.id in self.edge_results]

    def unsettled(self) -> Iterable[str]:
        return (n for n, s in self.state.items() if s != DONE)

    # -- transitions -----------------------------------------------------------------
    def start(self) -> Actions:
        actions = Actions()
        for n in self.plan.scope.entries:
            if n in self.state:
                self.state[n] = READY
                actions.ready.append(n)
        return actions

    def mark_running(self, node: str) -> None:
        """`node`, handed out as ready, is now running (like `graphlib`, misuse raises)."""
        state = self._state_of(node)
        if state != READY:
            raise ValueError(f"node {node!r} is not ready (it is {state})")
        self.state[node] = RUNNING

    def finish(self, node: str, outcome: Outcome) -> Actions:
        """Record how `node` ended and work out what follows. Finishing a node twice does
        nothing the second time (a late result of a node already cancelled or settled)."""
        self._state_of(node)
        actions = Actions()
        if self.state.get(node) == DONE:
            return actions
        self._settle(node)
        out_edges = self.plan.scope.out_edges.get(node, [])
        if outcome.status == "succeeded" or (outcome.status == "failed" and outcome.handle == "error"):
            for e in out_edges:
                handle = e.source_handle
                if outcome.handle is None:
                    chosen = handle in (None, "out")
                elif outcome.handle == "error":
                    chosen = handle == "error"
                else:
                    chosen = handle in (None, "out") or handle == outcome.handle
                if handle == "error" and outcome.handle != "error":
                    chosen = False
                result = EdgeResult("ok", outcome.output) if chosen else EdgeResult("skipped")
                actions.extend(self._settle_edge(e, result))
        elif outcome.status in ("skipped", "cancelled"):
            for e in out_edges:
                actions.extend(self._settle_edge(e, EdgeResult("skipped" if outcome.status == "skipped" else "cancelled")))
        else:  # failed or timed_out (a failure of the branch)
            governor = self.plan.governor.get(node)
            if governor is None or governor in self.fired:
                if governor is None:
                    actions.extend(self._fail_scope(node, outcome.error))
                for e in out_edges:
                    self._settle_edge_quiet(e)
            else:
                for e in out_edges:
                    actions.extend(self._settle_edge(e, EdgeResult("failed", error=outcome.error, node=node)))
        return actions

    def cancel_all(self, reason: str) -> Actions:
        """Stop the scope: running/ready nodes are cancelled, pending ones skipped."""
        actions = Actions()
        for n in list(self.unsettled()):
            if n in self.let_finish and self.state[n] in (RUNNING, READY):
                continue  # (the coordinator runs READY nodes; it never marks them RUNNING)
            if self.state[n] in (RUNNING, READY):
                actions.cancel.append((n, reason))
            else:
                self._settle(n)
                actions.skipped.append((n, reason))
        return actions

    # -- whole branches (engine.core.execution drives their timers and retries) -----------
    def branch_finished(self, spec: BranchSpec) -> bool:
        return all(self.state[n] == DONE for n in spec.order)

    def settle_branch(self, spec: BranchSpec, result: EdgeResult) -> Actions:
        """The branch ended as a whole (timed out, or failed under its own settings): what
        has not run is skipped (the caller has stopped what runs), and every edge leaving
        the branch carries `result` — what the join sees."""
        actions = Actions()
        members = set(spec.order)
        for n in spec.order:
            if self.state[n] == PENDING:
                actions.skipped.append((n, f"branch {spec.name} ended"))
            self._settle(n)
        leaving = [e for n in spec.order for e in self.plan.scope.out_edges.get(n, ()) if e.target not in members]
        for e in leaving:
            actions.extend(self._settle_edge(e, result))
        if result.kind == "failed" and not leaving and self.plan.governor.get(spec.first) is None:
            actions.extend(self._fail_scope(spec.first, result.error))
        return actions

    def reset_branch(self, spec: BranchSpec) -> None:
        """Make the branch run again from its first node (a branch retry): its nodes are
        pending again and nothing it sent on counts any more."""
        members = set(spec.order)
        for n in spec.order:
            if self.state[n] == DONE:
                self.settled -= 1
            self.state[n] = PENDING
            self.remaining[n] = self.plan.initial_remaining[n]
            self.fired.discard(n)
            self.cancelled_sections.discard(n)
            self.let_finish.discard(n)
            if n in self.join_counts:
                self.join_counts[n] = {}
            for e in self.plan.in_edges.get(n, ()):
                if e.source in members:
                    self.edge_results.pop(e.id, None)
            for e in self.plan.scope.out_edges.get(n, ()):
                if e.target in members or e.id not in self.edge_results:
                    continue
                result = self.edge_results.pop(e.id)
                self.remaining[e.target] += 1
                counts = self.join_counts.get(e.target)
                if counts is not None and counts.get(result.kind):
                    counts[result.kind] -= 1
        # The edge into the first node came from outside and still holds.
        self.remaining[spec.first] = 0
        self.state[spec.first] = READY

    # -- internals -------------------------------------------------------------------
    def _state_of(self, node: str) -> str:
        state = self.state.get(node)
        if state is None:
            raise ValueError(f"node {node!r} is not in this scope")
        return state

    def _settle(self, node: str) -> None:
        if self.state[node] != DONE:
            self.state[node] = DONE
            self.settled += 1

    def _settle_edge_quiet(self, edge: Edge) -> None:
        """An edge whose result no longer matters (the scope failed, or the join went on)."""
        if edge.id not in self.edge_results:
            self._record(edge, EdgeResult("cancelled"))

    def _record(self, edge: Edge, result: EdgeResult) -> None:
        self.edge_results[edge.id] = result
        counts = self.join_counts.get(edge.target)
        if counts is not None:
            counts[result.kind] = counts.get(result.kind, 0) + 1

    def _fail_scope(self, node: str, error: Any) -> Actions:
        if self.failed is None:
            self.failed = {"nodeId": node, "error": error}
        actions = Actions(scope_failed=self.failed)
        actions.extend(self.cancel_all(f"workflow failed at {node}"))
        return actions

    def _settle_edge(self, edge: Edge, result: EdgeResult) -> Actions:
        target = edge.target
        if target not in self.state or edge.id in self.edge_results:
            return Actions()
        self._record(edge, result)
        self.remaining[target] -= 1
        if self.state[target] != PENDING:
            return Actions()
        if target in self.plan.joins:
            return self._join_progress(target)
        if self.remaining[target] > 0:
            return Actions()
        return self._single_input_ready(target, result)

    def _single_input_ready(self, node: str, result: EdgeResult) -> Actions:
        if result.kind == "ok":
            self.state[node] = READY
            return Actions(ready=[node])
        if result.kind == "failed":
            # The failure travels on towards the join that governs it.
            self._settle(node)
            actions = Actions(skipped=[(node, "upstream branch failed")])
            sinks = not self.plan.scope.out_edges.get(node)
            if sinks and self.plan.governor.get(node) is None:
                actions.extend(self._fail_scope(node, result.error))
            for e in self.plan.scope.out_edges.get(node, []):
                actions.extend(self._settle_edge(e, EdgeResult("failed", error=result.error, node=result.node)))
            return actions
        return self._skip(node, "upstream skipped" if result.kind == "skipped" else "upstream cancelled")

    def _skip(self, node: str, reason: str) -> Actions:
        self._settle(node)
        actions = Actions(skipped=[(node, reason)])
        for e in self.plan.scope.out_edges.get(node, []):
            actions.extend(self._settle_edge(e, EdgeResult("skipped")))
        return actions

    def _join_progress(self, join: str) -> Actions:
        policy = self.plan.policies[join]
        counts = self.join_counts[join]
        succeeded = counts.get("ok", 0)
        failed = counts.get("failed", 0)
        total = len(self.plan.in_edges[join])
        live = total - counts.get("skipped", 0) - counts.get("cancelled", 0)
        if policy.mode in ("first_success", "quorum"):
            need = 1 if policy.mode == "first_success" else policy.quorum
            if succeeded >= need:
                return self._fire(join, cancel_reason=f"{join}: {policy.mode} reached")
            if live - failed < need and self.remaining[join] > 0:
                return self._join_fails(join, section_verdict(policy, succeeded, failed, live) or "cannot succeed")
        if failed and policy.fail_fast:
            return self._join_fails(join, f"failFast: a branch failed ({failed} of {total})")
        actions = Actions()
        if failed and policy.cancel_on_failure and join not in self.cancelled_sections:
            # Cut the branches still running; the join then judges what it has.
            self.cancelled_sections.add(join)
            actions = self._cancel_section(join, f"{join}: a branch failed (cancelOnFailure)", settle_join=True)
            if self.state[join] != PENDING:
                return actions  # the cut settled the last inputs and decided already
        if self.remaining[join] > 0:
            return actions
        actions.extend(self._decide(join, policy, succeeded, failed, live, counts.get("cancelled", 0)))
        return actions

    def _decide(self, join: str, policy: JoinPolicy, succeeded: int, failed: int, live: int, cancelled: int) -> Actions:
        """Every input of `join` has settled: go on, skip, or fail the section."""
        if live == 0:
            return self._skip(join, "all inputs skipped")
        verdict = section_verdict(policy, succeeded, failed, live, cancelled)
        if verdict:
            return self._join_fails(join, verdict)
        self.state[join] = READY
        return Actions(ready=[join])

    def _fire(self, join: str, cancel_reason: str) -> Actions:
        self.fired.add(join)
        self.state[join] = READY
        actions = Actions(ready=[join])
        actions.extend(self._cancel_section(join, cancel_reason))
        return actions

    def _cancel_section(self, join: str, reason: str, settle_join: bool = False) -> Actions:
        """Cancel what runs in the section of `join` and skip what has not started. With
        `settle_join` the join still waits, so the cut edges into it count as settled."""
        actions = Actions()
        for n in self.plan.section(join):
            state = self.state[n]
            if state in (RUNNING, READY):
                actions.cancel.append((n, reason))
            elif state == PENDING:
                self._settle(n)
                actions.skipped.append((n, reason))
                for e in self.plan.scope.out_edges.get(n, []):
                    if e.target != join or settle_join:
                        actions.extend(self._settle_edge(e, EdgeResult("cancelled")))
                    else:
                        self._settle_edge_quiet(e)
        return actions

    def _join_fails(self, join: str, message: str, cancel: bool = False) -> Actions:
        """The section failed: the join records a failure without running."""
        self.fired.add(join)
        errors = [_naming_node(r) for _, r in self.inputs(join) if r.kind == "failed"]
        error = {"message": message, "branchErrors": errors}
        actions = Actions(join_failed=[(join, error)])
        # Without cancelling, the rest of the section finishes; its results no longer
        # matter to the join but stay on the timeline.
        if cancel or self.plan.policies[join].cancel_on_failure:
            actions.extend(self._cancel_section(join, f"{join}: {message}"))
        else:
            self.let_finish.update(n for n in self.plan.section(join) if self.state[n] != DONE)
        self.state[join] = RUNNING  # the caller records the failure and calls finish()
        return actions

    def section_timed_out(self, join: str, collect_partial: bool) -> Actions:
        """`parallel.totalTimeout` fired before the join went on."""
        if self.state.get(join) != PENDING or join in self.fired:
            return Actions()
        if not collect_partial:
            return self._join_fails(join, "totalTimeout reached", cancel=True)
        self.fired.add(join)
        actions = self._cancel_section(join, f"{join}: totalTimeout reached")
        self.state[join] = READY
        actions.ready.append(join)
        return actions
