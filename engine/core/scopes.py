"""The parts of an execution the scheduler's decisions are about: a node run attempt, a
scope run (the top-level graph or one loop item's body) and a branch with settings of its
own. Only the coordinator thread touches them; a worker gets an `Attempt` with a ready-made
`NodeContext` and reports back through the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.core.branches import MAIN, Path, branch_id, trace_for
from engine.core.context import TemplateContext, referenced_names
from engine.core.graph import Node
from engine.core.policies import NodePolicy
from engine.core.records import NodeRunRow
from engine.core.scheduler import BranchSpec, ScopePlan, ScopeScheduler
from engine.core.templates import render
from engine.nodes.base import BranchResult, NodeContext, NodeType

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun


@dataclass
class Attempt:
    id: str
    ex: ExecutionRun
    scope: ScopeRun
    node: Node
    attempt: int
    row: NodeRunRow
    policy: NodePolicy
    input: Any
    status: str = "queued"
    impl: NodeType | None = None
    ctx: NodeContext | None = None
    holds_slot: bool = False
    timers: list[Any] = field(default_factory=list)
    started_mono: float = 0.0  # the engine's clock (Engine.clock) at the recorded start
    branch_results: list[BranchResult] = field(default_factory=list)
    branches: dict[str, Any] = field(default_factory=dict)
    loop: Any = None  # a LoopRun when the node is a container
    detached: bool = False  # a signal handler or compensation: outside the scheduler
    on_finish: Callable[[Attempt], None] | None = None  # detached only: told when it ends (rollback)
    tries_before: int = 0  # detached only: attempts of this node before its retry series began
    at_once: bool = False  # detached only: a retry starts when due, not at the next dispatch
    # Detached only: a custom signal handler, kept in the execution's state from its queueing
    # to its end (through its retries), so that an engine taking the run over runs it again.
    durable: bool = False

    @property
    def active(self) -> bool:
        return self.status in ("queued", "retrying", "running")

    def context(self, cls: type[NodeType]) -> NodeContext:
        """What the node's body gets: its config rendered against this run (a template
        error raises here), its input and the bindings its code refers to."""
        ex, scope, row = self.ex, self.scope, self.row
        tctx = TemplateContext(ex, scope, self.input, {"id": row["branch_id"], "name": row["branch_name"]},
                               row["trace_id"])
        config = render(dict(self.node.config), tctx, skip=cls.raw_fields, max_chars=ex.engine.options.output_max_bytes)
        if self.node.type == "merge" and "parallel" not in config and isinstance(ex.plan.default_parallel, dict):
            config["parallel"] = ex.plan.default_parallel  # the merge shapes its output by it
        bindings = tctx.bindings(referenced_names(self.node.config, cls.raw_fields)) if cls.raw_fields else {}
        bindings.pop("__execution_input", None)
        bindings.pop("__item", None)
        return NodeContext(
            node_id=self.node.id, name=self.node.name, type=self.node.type, config=config,
            input=self.input, execution_id=ex.id, trace_id=row["trace_id"], branch_id=row["branch_id"],
            branch_name=row["branch_name"], attempt=self.attempt, iteration=scope.iteration,
            scope=bindings, branches=self.branches, branch_results=self.branch_results,
            options=ex.engine.options, owner=ex.owner,
            otel_trace_id=(ex.extra_state.get("otel") or {}).get("traceId"),
        )


@dataclass
class BranchRun:
    """A branch with settings of its own in one scope run: its attempt and its timer."""

    spec: BranchSpec
    attempt: int = 1
    started: bool = False
    done: bool = False
    timer: Any = None


class ScopeRun:
    """One run of a scope: the top-level graph or the body of a loop for one item."""

    def __init__(
        self,
        ex: ExecutionRun,
        plan: ScopePlan,
        *,
        key: str = "",
        parent: ScopeRun | None = None,
        iteration: int | None = None,
        base_path: Path = (),
        base_names: tuple[str, ...] = (),
        base_trace: str = "",
        locals: dict[str, Any] | None = None,
        on_done: Callable[[ScopeRun], None] | None = None,
    ):
        self.ex = ex
        self.plan = plan
        self.sched = ScopeScheduler(plan)
        self.key = key
        self.parent = parent
        self.iteration = iteration
        self.base_path = base_path
        self.base_names = base_names
        self.base_trace = base_trace or ex.trace_id
        self.locals = locals or {}
        self.outputs: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}
        self.attempts: dict[str, Attempt] = {}  # live attempt per node
        self.on_done = on_done
        self.done = False
        self.deadlines: set[str] = set()
        self.branch_runs: dict[str, BranchRun] = {}  # by fan-out edge id, made when one starts

    def branch_run(self, spec: BranchSpec) -> BranchRun:
        run = self.branch_runs.get(spec.edge.id)
        if run is None:
            # After a restart, a branch that was retrying goes on at the attempt it had reached.
            run = self.branch_runs[spec.edge.id] = BranchRun(spec, attempt=self.ex.branches.saved_attempt(self, spec))
        return run

    def branch_of(self, node_id: str) -> tuple[str, str, str]:
        rel = self.plan.branches.node.get(node_id, MAIN)
        path = self.base_path + rel.path
        names = self.base_names + rel.names
        trace = trace_for(self.base_trace, rel.path)
        own = self.plan.branches.own_trace.get(node_id)
        if own is not None:  # a loop beside other children of its branch (engine.core.branches)
            trace += f"-{own:03d}"
        return branch_id(path), (names[-1] if names else "main"), trace

    def result(self) -> Any:
        sinks = [n for n in self.plan.scope.order if not self.plan.scope.out_edges.get(n)]
        done = [n for n in sinks if n in self.outputs]
        if len(sinks) == 1:
            return self.outputs.get(sinks[0])
        return {n: self.outputs[n] for n in done}

    def inputs(self, node_id: str) -> tuple[Any, dict[str, Any], list[BranchResult]]:
        """A node's input, its branches by name and, at a join, how each branch ended."""
        plan = self.plan
        if not plan.in_edges.get(node_id):
            if self.parent is None:
                return self.ex.input, {}, []
            return self.locals.get("__item"), {}, []
        pairs = self.sched.inputs(node_id)
        if node_id not in plan.joins:
            data = pairs[0][1].data if pairs else None
            return data, (self._merged_branches(pairs[0][0].source, data) if pairs else {}), []
        branches: dict[str, Any] = {}
        results: list[BranchResult] = []
        settled = {e.id for e, _ in pairs}
        for edge in plan.in_edges[node_id]:
            name = plan.branches.join_key(edge, node_id)
            if edge.id not in settled:
                results.append(BranchResult(name, False, error={"message": "cancelled: not finished"}, cancelled=True))
                continue
            result = self.sched.edge_results[edge.id]
            if result.kind == "ok":
                branches[name] = result.data
                results.append(BranchResult(name, True, data=result.data))
            elif result.kind == "failed":
                results.append(BranchResult(name, False, error=result.error))
            elif result.kind == "cancelled":
                results.append(BranchResult(name, False, error={"message": "cancelled"}, cancelled=True))
        ok = [r for r in results if r.success]
        node_input: Any = branches
        if self.ex.plan.graph.nodes[node_id].type != "merge" and len(ok) == 1:
            node_input = ok[0].data
        return node_input, branches, results

    def _merged_branches(self, source: str, data: Any) -> dict[str, Any]:
        """Right after a Merge whose output is `{branch_a: …, branch_b: …}`, the branches are
        also readable by name (`branch_a.count`), as in the node that joins them (SPEC §5)."""
        if not isinstance(data, dict) or self.ex.plan.graph.nodes[source].type != "merge":
            return {}
        plan = self.plan
        names = {plan.branches.join_key(edge, source) for edge in plan.in_edges.get(source, ())}
        return {name: value for name, value in data.items() if name in names}
