"""One execution in the coordinator: node run attempts, their policies, and the scope runs
(the top-level graph and each loop item) whose schedulers decide what runs next.

Only the coordinator thread touches these objects. Worker threads receive an `Attempt`
with a ready-made `NodeContext` and report back through the engine's inbox.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.branches import MAIN, Path, branch_id, trace_for
from engine.core.context import TemplateContext, referenced_names
from engine.core.graph import Node
from engine.core.json_bounds import JSONBoundsError, storable
from engine.core.pacing import HOLD_BURST_OVER, HOLD_CHUNK  # burst hold-back
from engine.core.persistence import ExecutionRecord, now
from engine.core.plan import VersionPlan
from engine.core.policies import NodePolicy, node_policy, retry_delay_ms
from engine.core.redrive import rerun_keys
from engine.core.rollback import note_succeeded
from engine.core.scheduler import Actions, BranchSpec, EdgeResult, Outcome, ScopePlan, ScopeScheduler
from engine.core.templates import render
from engine.nodes import get_node_type
from engine.nodes.base import (
    AwaitSignal,
    BranchResult,
    NodeCancelled,
    NodeContext,
    NodeError,
    NodeType,
    Route,
    Sleep,
)

if TYPE_CHECKING:
    from engine.core.engine import Engine

FINAL = frozenset({"succeeded", "failed", "skipped", "cancelled", "timed_out"})
EVENT_OUTPUT_LIMIT = 4000


_SCALARS = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    if isinstance(value, _SCALARS) and not (isinstance(value, float) and value != value):
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _message(error: Any) -> str:
    return str(error.get("message")) if isinstance(error, dict) and error.get("message") else str(error)


def _small(value: Any) -> Any:
    if isinstance(value, _SCALARS) and not isinstance(value, str):
        return value
    text = json.dumps(value, default=str)
    return value if len(text) <= EVENT_OUTPUT_LIMIT else {"truncated": True, "size": len(text)}


@dataclass
class Attempt:
    id: str
    ex: ExecutionRun
    scope: ScopeRun
    node: Node
    attempt: int
    row: dict[str, Any]
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

    @property
    def active(self) -> bool:
        return self.status in ("queued", "retrying", "running")


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
            run = self.branch_runs[spec.edge.id] = BranchRun(spec)
        return run

    def branch_of(self, node_id: str) -> tuple[str, str, str]:
        rel = self.plan.branches.node.get(node_id, MAIN)
        path = self.base_path + rel.path
        names = self.base_names + rel.names
        return branch_id(path), (names[-1] if names else "main"), trace_for(self.base_trace, rel.path)

    def result(self) -> Any:
        sinks = [n for n in self.plan.scope.order if not self.plan.scope.out_edges.get(n)]
        done = [n for n in sinks if n in self.outputs]
        if len(sinks) == 1:
            return self.outputs.get(sinks[0])
        return {n: self.outputs[n] for n in done}


class ExecutionRun:
    def __init__(self, engine: Engine, record: ExecutionRecord, plan: VersionPlan):
        self.engine = engine
        self.id = record.id
        self.plan = plan
        self.trace_id = record.trace_id
        self.owner = record.owner
        self.input = record.input if record.input is not None else {}
        state = record.state or {}
        self.variables: dict[str, Any] = {**plan.variables, **(state.get("variables") or {})}
        self.signal: Any = state.get("signal") or {}
        self.status = "paused" if record.status == "paused" else "running"
        self.pause_reason: str = state.get("pauseReason", "")
        # Signal state that must survive a restart (engine.core.signals / rollback): the
        # approval that waits, an unfinished rollback.
        self.extra_state: dict[str, Any] = {k: v for k, v in state.items() if k in ("awaiting", "granted", "rollback", "notify", "otel", "redrive")}
        self.awaiting: Attempt | None = None  # the approval node run the execution waits on
        self.compensable: list[dict[str, Any]] = []  # succeeded node runs with `compensate`
        # Set when this run replays loop-item dead letters: loop node id -> the items to run
        # instead of the whole array (engine.dead_letters; read by engine.core.loops).
        self.dead_letter_replay: dict[str, Any] = state.get("deadLetterReplay") or {}
        self.seq = record.last_seq
        self.run_seq = max((r.get("seq", 0) for r in record.node_runs), default=0)
        self.in_flight = 0
        self.ready: deque[Attempt] = deque()
        # Nodes of a burst made ready at once, held back while the first of them start
        # (`apply`), then queued a chunk per pass. An engine that stops meanwhile loses
        # nothing: the one that resumes finds them ready again from the finished node runs.
        self.held: deque[tuple[str, datetime]] = deque()
        self.active: dict[str, Attempt] = {}
        # Loops that failed fast while items still run (no cancelOnFailure): their scope
        # does not end before those items do (engine.core.loops).
        self.lingering: set[Any] = set()
        self.finished = False
        self.final_status: str | None = None
        self.rollback_report: list[dict[str, Any]] = []  # how each compensation ended (for the mail)
        self.cancelled_reason: str | None = None
        # Rows of an earlier engine: finished ones are replayed, unfinished ones retried.
        self.replay: dict[tuple[str, str], dict[str, Any]] = {}
        self.recorded: set[tuple[str, str]] = set()
        self.attempt_counts: dict[tuple[str, str], int] = {}
        # Attempt numbers run on across branch retries (each attempt its own row); a node's
        # own `retry` counts from the attempt its branch's latest run started at.
        self.retry_base: dict[tuple[str, str], int] = {}
        # Queued rows that never started (e.g. held by a pause) are taken up again as the
        # same attempt, so restarting a paused run costs no retry attempts and adds no rows.
        self.unstarted: dict[tuple[str, str], dict[str, Any]] = {}
        # A redrive (engine.core.redrive): the runs it re-runs are history up to `sinceSeq`,
        # the node-run seq when it began; rows after that are its own and replay as usual.
        redrive = self.extra_state.get("redrive") or {}
        since = int(redrive.get("sinceSeq") or 0)
        history = rerun_keys(plan.graph, [r for r in record.node_runs if r.get("seq", 0) <= since],
                             nodes=redrive.get("nodes"), items=redrive.get("items"),
                             new_version=bool(redrive.get("newVersion"))) if redrive else set()
        for row in record.node_runs:
            key = (row["scope"], row["node_id"])
            if key in history and row.get("seq", 0) <= since:
                self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"])
                continue
            self.recorded.add(key)
            if row["status"] == "queued" and not row.get("started_at"):
                self.replay.pop(key, None)
                self.unstarted[key] = row
                self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"] - 1)
                continue
            self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"])
            if row["status"] in FINAL:
                # Rows come in seq order: the last attempt of a node decides.
                self.replay[key] = row
            else:
                self.replay.pop(key, None)
                interrupted = dict(row)
                interrupted.update(status="cancelled", finished_at=now(),
                                   error={"message": "interrupted: the engine stopped; the node run is retried"})
                engine.batch.node_runs[row["id"]] = interrupted
                self.event("node.cancelled", interrupted, data={"reason": "interrupted"})
        self.top = ScopeRun(self, plan.scopes[None])
        self.top.locals["__execution_input"] = self.input

    # -- bookkeeping -----------------------------------------------------------------
    def event(self, type: str, row: dict[str, Any] | None = None, *, status: str = "", data: Any = None) -> None:
        self.seq += 1
        event = {
            "execution_id": self.id, "seq": self.seq, "type": type, "ts": now(),
            "node_id": "", "node_run_id": "", "branch_id": "", "branch_name": "", "trace_id": self.trace_id,
            "attempt": None, "iteration": None, "status": status, "data": data,
        }
        if row is not None:
            event.update(
                node_id=row["node_id"], node_run_id=row["id"], branch_id=row["branch_id"],
                branch_name=row["branch_name"], trace_id=row["trace_id"], attempt=row["attempt"],
                iteration=row["iteration"], status=status or row["status"],
            )
        self.engine.batch.events.append(event)
        self.engine.batch.executions.setdefault(self.id, {})["last_seq"] = self.seq

    def update_execution(self, **fields: Any) -> None:
        self.engine.batch.executions.setdefault(self.id, {}).update(fields)
        if "status" in fields:
            self.engine.batch.owners[self.id] = self.owner

    def save_state(self) -> None:
        state = {**self.extra_state, "variables": self.variables, "signal": self.signal,
                 "pauseReason": self.pause_reason}
        if self.dead_letter_replay:
            state["deadLetterReplay"] = self.dead_letter_replay
        self.update_execution(state=state)

    def touch(self, attempt: Attempt) -> None:
        self.engine.batch.node_runs[attempt.id] = attempt.row

    def new_row(self, scope: ScopeRun, node: Node, attempt: int, status: str, input: Any,
                queued_at: datetime | None = None) -> dict[str, Any]:
        bid, bname, trace = scope.branch_of(node.id)
        taken_up = self.unstarted.pop((scope.key, node.id), None)
        if taken_up is None or taken_up["attempt"] != attempt:
            taken_up = None
            self.run_seq += 1
        row = {
            # uuid4's randomness without building a UUID object.
            "id": taken_up["id"] if taken_up else os.urandom(16).hex(), "execution_id": self.id, "node_id": node.id, "name": node.name,
            "type": node.type, "scope": scope.key, "status": status, "attempt": attempt,
            "iteration": scope.iteration, "branch_id": bid, "branch_name": bname, "trace_id": trace,
            "queued_at": queued_at or now(), "started_at": None, "finished_at": None, "input": _jsonable(input),
            "output": None, "error": None, "handle": "", "claimed_by": "",
            "seq": taken_up["seq"] if taken_up else self.run_seq,
        }
        if taken_up:
            row["queued_at"] = taken_up["queued_at"]
        self.engine.batch.node_runs[row["id"]] = row
        if taken_up is None:
            self.engine.batch.new_ids.add(row["id"])
        self.recorded.add((scope.key, node.id))
        return row

    def log(self, attempt: Attempt, message: str) -> None:
        self.event("log", attempt.row, status=attempt.row["status"], data={"message": message[:10000]})

    # -- starting ----------------------------------------------------------------------
    def start(self) -> None:
        redrive = self.extra_state.get("redrive")
        if redrive and redrive.get("pending"):
            self.extra_state["redrive"] = {**redrive, "pending": False}
            self.save_state()
            self.event("execution.resumed", status="running",
                       data={"reason": "redrive", "redrive": redrive.get("number"), "sinceSeq": redrive.get("sinceSeq")})
        elif not self.replay and not self.recorded:
            self.update_execution(status="running", started_at=now())
            self.event("execution.started", status="running")
        else:
            self.event("execution.resumed" if self.status == "running" else "execution.paused",
                       status=self.status, data={"reason": "engine restarted"})
        if self.plan.timeout_ms:
            self.engine.add_timer(self.plan.timeout_ms / 1000, self._execution_timeout, self)
        self.apply(self.top, self.top.sched.start())

    def _execution_timeout(self) -> None:
        if not self.finished:
            self.cancel(f"execution timeout of {self.plan.timeout_ms} ms reached", final_status="timed_out")

    def node_ready(self, scope: ScopeRun, node_id: str, *, retry_of: Attempt | None = None,
                   queued_at: datetime | None = None) -> None:
        node = self.plan.graph.nodes[node_id]
        key = (scope.key, node_id)
        replayed = self.replay.pop(key, None) if retry_of is None else None
        if replayed is not None:
            self._replay(scope, node, replayed)
            return
        for join in scope.plan.deadline_joins.get(node_id, ()):
            self._open_deadline(scope, join)
        for spec in scope.plan.branch_first.get(node_id, ()):
            self._open_branch(scope, spec)
        node_input, branches, branch_results = self._inputs(scope, node_id)
        attempt_no = self.attempt_counts.get(key, 0) + 1
        self.attempt_counts[key] = attempt_no
        policy = scope.plan.node_policies.get(node_id)
        if policy is None:  # per version, not per run
            # A node's own settings only: the branch's hold for the branch as a whole.
            policy = scope.plan.node_policies[node_id] = node_policy(node.config)
        status = "retrying" if retry_of is not None else "queued"
        row = self.new_row(scope, node, attempt_no, status, node_input, queued_at)
        attempt = Attempt(row["id"], self, scope, node, attempt_no, row, policy, node_input, status=status,
                          branches=branches, branch_results=branch_results)
        scope.attempts[node_id] = attempt
        self.active[attempt.id] = attempt
        self.event("node.queued" if retry_of is None else "node.retrying", row)
        if retry_of is not None:
            return  # the retry timer moves it to the ready queue
        self.enqueue(attempt)

    def enqueue(self, attempt: Attempt) -> None:
        if attempt.node.type == "loop":
            self.engine.start_container(attempt)
            return
        self.ready.append(attempt)
        self.engine.mark_dirty(self)

    def _open_deadline(self, scope: ScopeRun, join: str) -> None:
        """Start a section's `totalTimeout` clock when its first branch node is ready."""
        if join in scope.deadlines:
            return
        scope.deadlines.add(join)
        policy = scope.plan.policies[join]
        assert policy.total_timeout_ms is not None
        collect = policy.on_total_timeout == "collect_partial"

        def expire() -> None:
            if not self.finished and not scope.done:
                self.apply(scope, scope.sched.section_timed_out(join, collect))

        self.engine.add_timer(policy.total_timeout_ms / 1000, expire, self)

    def _replay(self, scope: ScopeRun, node: Node, row: dict[str, Any]) -> None:
        status = row["status"]
        outcome = Outcome(status, row.get("output"), row.get("error"), row.get("handle") or None)
        if status == "succeeded":
            note_succeeded(self, node, row)
        if status == "succeeded" or outcome.handle == "error":
            scope.outputs[node.id] = row.get("output")
            if node.type == "set" and isinstance(row.get("output"), dict):
                self.variables = {**self.variables, **row["output"]}
            if node.type == "loop":
                alias = (node.config or {}).get("outputVariable")
                if alias:
                    scope.aliases[alias] = node.id
        self.apply(scope, scope.sched.finish(node.id, outcome))

    # -- whole branches (SPEC §4.3: edges[].branch holds for the branch as a whole) -------
    def _open_branch(self, scope: ScopeRun, spec: BranchSpec) -> None:
        """The branch's first node is ready: its timeout runs from now to its last node's end."""
        run = scope.branch_run(spec)
        if run.started or run.done:
            return
        run.started = True
        if spec.timeout_ms:
            attempt_no = run.attempt
            run.timer = self.engine.add_timer(spec.timeout_ms / 1000,
                                              lambda: self._branch_timed_out(scope, run, attempt_no))

    def _branch_timed_out(self, scope: ScopeRun, run: BranchRun, attempt_no: int) -> None:
        spec = run.spec
        if run.done or run.attempt != attempt_no or self.finished or scope.done or scope.sched.branch_finished(spec):
            return
        error = {"message": f"branch {spec.name} timed out after {spec.timeout_ms} ms", "timeout": True,
                 "branch": spec.name}
        if spec.on_timeout == "continue":
            self._stop_branch(scope, spec, "succeeded", output={"timedOut": True})
            self._end_branch(scope, run, EdgeResult("ok", {"timedOut": True}))
            return
        self._stop_branch(scope, spec, "timed_out", error=error)
        if spec.on_timeout == "cancel":
            self._end_branch(scope, run, EdgeResult("failed", error=error))
        else:
            self._branch_failed(scope, run, error)

    def _stop_branch(self, scope: ScopeRun, spec: BranchSpec, status: str, *, output: Any = None,
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
            self.finalize(attempt, status, output=output, error=error, propagate=False)
            del scope.attempts[node_id]
            if status == "succeeded":
                scope.outputs[node_id] = output

    def _failing_branch(self, scope: ScopeRun, node_id: str) -> BranchRun | None:
        """The innermost branch of this node whose own settings decide about a failure."""
        for spec in reversed(scope.plan.branch_member.get(node_id, ())):
            if spec.max_attempts > 1 or spec.on_error != "fail":
                run = scope.branch_run(spec)
                return None if run.done else run
        return None

    def _branch_failed(self, scope: ScopeRun, run: BranchRun, error: Any) -> None:
        """The branch failed (a node failed after its own retries, or the branch timed out
        with onTimeout `error`): retry it from its first node, else apply its onError."""
        spec = run.spec
        self._stop_branch(scope, spec, "cancelled", error={"message": f"branch {spec.name} failed"})
        if run.attempt < spec.max_attempts and not self.finished and self.cancelled_reason is None:
            delay = retry_delay_ms(spec.retry, run.attempt)
            if run.timer is not None:
                run.timer.cancelled = True
            run.attempt += 1
            run.started = False
            for node_id in spec.order:
                self.retry_base[(scope.key, node_id)] = self.attempt_counts.get((scope.key, node_id), 0)
            scope.sched.reset_branch(spec)
            self.event("log", status=self.status, data={
                "message": f"branch {spec.name} failed ({_message(error)}); running it again from "
                           f"{spec.first} in {round(delay)} ms (attempt {run.attempt} of {spec.max_attempts})",
                "branch": spec.name, "attempt": run.attempt, "error": _small(error)})

            def again() -> None:
                if not self.finished and not scope.done and self.cancelled_reason is None:
                    self.node_ready(scope, spec.first)

            self.engine.add_timer(delay / 1000, again)
            return
        if spec.on_error == "continue":
            self._end_branch(scope, run, EdgeResult("ok", {"error": error}))
        else:
            self._end_branch(scope, run, EdgeResult("failed", error=error))

    def _end_branch(self, scope: ScopeRun, run: BranchRun, result: EdgeResult) -> None:
        run.done = True
        if run.timer is not None:
            run.timer.cancelled = True
        self.apply(scope, scope.sched.settle_branch(run.spec, result))

    def _branches_settled(self, scope: ScopeRun, node_id: str) -> None:
        """A node of a timed branch ended: when the whole branch has, its clock stops."""
        for spec in scope.plan.branch_member.get(node_id, ()):
            run = scope.branch_runs.get(spec.edge.id)
            if run is not None and not run.done and scope.sched.branch_finished(spec):
                run.done = True
                if run.timer is not None:
                    run.timer.cancelled = True

    def _inputs(self, scope: ScopeRun, node_id: str) -> tuple[Any, dict[str, Any], list[BranchResult]]:
        plan = scope.plan
        if not plan.in_edges.get(node_id):
            if scope.parent is None:
                return self.input, {}, []
            return scope.locals.get("__item"), {}, []
        pairs = scope.sched.inputs(node_id)
        if node_id not in plan.joins:
            data = pairs[0][1].data if pairs else None
            return data, (self._merged_branches(scope, pairs[0][0].source, data) if pairs else {}), []
        branches: dict[str, Any] = {}
        results: list[BranchResult] = []
        settled = {e.id for e, _ in pairs}
        for edge in plan.in_edges[node_id]:
            name = plan.branches.join_key(edge, node_id)
            if edge.id not in settled:
                results.append(BranchResult(name, False, error={"message": "cancelled: not finished"}, cancelled=True))
                continue
            result = scope.sched.edge_results[edge.id]
            if result.kind == "ok":
                branches[name] = result.data
                results.append(BranchResult(name, True, data=result.data))
            elif result.kind == "failed":
                results.append(BranchResult(name, False, error=result.error))
            elif result.kind == "cancelled":
                results.append(BranchResult(name, False, error={"message": "cancelled"}, cancelled=True))
        ok = [r for r in results if r.success]
        node_input: Any = branches
        if self.plan.graph.nodes[node_id].type != "merge" and len(ok) == 1:
            node_input = ok[0].data
        return node_input, branches, results

    def _merged_branches(self, scope: ScopeRun, source: str, data: Any) -> dict[str, Any]:
        """Right after a Merge whose output is `{branch_a: …, branch_b: …}`, the branches are
        also readable by name (`branch_a.count`), as in the node that joins them (SPEC §5)."""
        if not isinstance(data, dict) or self.plan.graph.nodes[source].type != "merge":
            return {}
        plan = scope.plan
        names = {plan.branches.join_key(edge, source) for edge in plan.in_edges.get(source, ())}
        return {name: value for name, value in data.items() if name in names}

    # -- running -----------------------------------------------------------------------
    def dispatch(self, budget: int) -> int:
        """Start ready attempts while the execution has free slots; returns work done."""
        done = 0
        deadline = self.engine.tick_deadline
        while self.ready and self.status == "running" and self.in_flight < self.plan.max_concurrency and done < budget:
            if done and self.engine.clock() > deadline:
                break  # flush what happened so far; the rest follows next tick
            attempt = self.ready.popleft()
            if attempt.status not in ("queued", "retrying"):
                continue
            done += 1
            self._start(attempt)
            if self.held and not self.ready:
                self.take_up_held(HOLD_CHUNK)  # the first of a burst have started: queue more
        if self.held:
            # A chunk per pass, so that the timers of the node runs just started fire on
            # time between chunks (the engine keeps an execution that holds nodes dirty).
            self.take_up_held(HOLD_CHUNK)
        return done

    def _start(self, attempt: Attempt) -> None:
        node = attempt.node
        cls = get_node_type(node.type)
        if cls is None:  # validated on save; a type removed since then
            self.fail_attempt(attempt, {"message": f"unknown node type {node.type!r}"}, retryable=False)
            return
        attempt.impl = cls()
        attempt.status = "running"
        attempt.holds_slot = True
        self.in_flight += 1
        row = attempt.row
        row["status"] = "running"
        attempt.started_mono, row["started_at"] = self.engine.start_stamp(row["queued_at"])
        row["claimed_by"] = self.engine.engine_id
        self.touch(attempt)
        self.event("node.started", row)
        ctx = self._context(attempt, cls)
        if ctx is None:
            return
        attempt.ctx = ctx
        if attempt.policy.timeout_ms:
            attempt.timers.append(self.engine.add_timer(attempt.policy.timeout_ms / 1000, lambda: self.timed_out(attempt),
                                                                 self))
        if cls.runs_inline(ctx.config):
            try:
                value = attempt.impl.run(ctx)
            except BaseException as exc:  # noqa: BLE001 - any failure of a node is its own
                self.complete(attempt, None, exc)
            else:
                self.complete(attempt, value, None)
        else:
            self.engine.batch.claims.append(attempt.id)
            self.engine.submit_work(attempt)

    def _context(self, attempt: Attempt, cls: type[NodeType]) -> NodeContext | None:
        scope = attempt.scope
        row = attempt.row
        tctx = TemplateContext(self, scope, attempt.input, {"id": row["branch_id"], "name": row["branch_name"]},
                               row["trace_id"])
        try:
            config = render(dict(attempt.node.config), tctx, skip=cls.raw_fields)
        except Exception as exc:  # noqa: BLE001
            self.complete(attempt, None, NodeError(f"template error: {exc}", retryable=False))
            return None
        if attempt.node.type == "merge" and "parallel" not in config and isinstance(self.plan.default_parallel, dict):
            config["parallel"] = self.plan.default_parallel  # the merge shapes its output by it
        bindings = tctx.bindings(referenced_names(attempt.node.config, cls.raw_fields)) if cls.raw_fields else {}
        bindings.pop("__execution_input", None)
        bindings.pop("__item", None)
        ctx = NodeContext(
            node_id=attempt.node.id, name=attempt.node.name, type=attempt.node.type, config=config,
            input=attempt.input, execution_id=self.id, trace_id=row["trace_id"], branch_id=row["branch_id"],
            branch_name=row["branch_name"], attempt=attempt.attempt, iteration=scope.iteration,
            scope=bindings, branches=attempt.branches, branch_results=attempt.branch_results,
            options=self.engine.options, owner=self.owner,
            otel_trace_id=(self.extra_state.get("otel") or {}).get("traceId"),
        )
        ctx.log_sink = lambda message: self.engine.post_log(attempt, message)
        return ctx

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
                self.engine.add_timer(max(0.0, due - self.engine.clock()), lambda: self.complete(attempt, wake_output, None),
                                      self)
            )
            return
        if isinstance(value, AwaitSignal):
            self.engine.await_signal(attempt, value)
            return
        handle = None
        if isinstance(value, Route):
            value, handle = value.output, value.handle
        try:
            # Whatever a node returns is checked here, once for every node type: a NaN or
            # a value nested 950 deep fails this node run, not the shared write (or every
            # later read) of it.
            value = storable(value, max_depth=self.engine.options.output_max_depth, what="the node's output")
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
        policy = attempt.policy
        tries = attempt.attempt - self.retry_base.get((attempt.scope.key, attempt.node.id), 0)
        if retryable and tries < policy.max_attempts and not self.finished and self.cancelled_reason is None:
            self.finalize(attempt, status, error=error, propagate=False)
            delay = retry_delay_ms(policy.retry, attempt.attempt)
            self.node_ready(attempt.scope, attempt.node.id, retry_of=attempt)
            nxt = attempt.scope.attempts[attempt.node.id]
            nxt.row["error"] = {"previousError": error, "retryInMs": round(delay)}

            def go() -> None:
                if nxt.status == "retrying":
                    self.ready.append(nxt)
                    self.engine.mark_dirty(self)

            nxt.timers.append(self.engine.add_timer(delay / 1000, go, self))
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
        """Record the end of an attempt, free its slot, and tell the scheduler."""
        if not attempt.active:
            return
        attempt.status = status
        for timer in attempt.timers:
            timer.cancelled = True
        # Leave no reference cycle behind (a timer's callback and the log sink's closure
        # hold the attempt): finished node runs are then freed as soon as nothing needs
        # them, instead of piling up (~30 objects each) for the garbage collector, whose
        # passes over them stalled the coordinator for tens of milliseconds.
        attempt.timers = []
        if attempt.ctx is not None and not self.engine.on_worker(attempt.id):
            attempt.ctx.log_sink = None  # its body has returned: nothing will log any more
        if attempt.holds_slot:
            attempt.holds_slot = False
            self.in_flight -= 1
            if self.ready:
                self.engine.mark_dirty(self)
        self.active.pop(attempt.id, None)
        row = attempt.row
        row.update(status=status, finished_at=now(), output=output, error=error, handle=handle or "")
        if row["started_at"] is None and status in ("succeeded", "failed", "timed_out"):
            row["started_at"] = row["finished_at"]
        self.touch(attempt)
        data: dict[str, Any] = {}
        if output is not None:
            data["output"] = _small(output)
        if error is not None:
            data["error"] = _small(error)
        self.event(f"node.{status}", row, data=data or None)
        if not propagate:
            return
        if attempt.detached:
            if attempt.on_finish is not None:
                attempt.on_finish(attempt)
            return
        if status == "succeeded":
            note_succeeded(self, attempt.node, row)
        scope = attempt.scope
        if scope.attempts.get(attempt.node.id) is attempt:
            del scope.attempts[attempt.node.id]
        if status in ("failed", "timed_out") and handle != "error" and scope.plan.branch_member:
            branch = self._failing_branch(scope, attempt.node.id)
            if branch is not None:
                self._branch_failed(scope, branch, error)
                return
        if status == "succeeded" or handle == "error":
            scope.outputs[attempt.node.id] = output
            if attempt.node.type == "set" and isinstance(output, dict):
                self.variables = {**self.variables, **output}
                self.save_state()
        self.apply(scope, scope.sched.finish(attempt.node.id, Outcome(status, output, error, handle)))
        if scope.plan.branch_member:
            self._branches_settled(scope, attempt.node.id)

    def record_settled(self, scope: ScopeRun, node_id: str, status: str, error: Any) -> None:
        """A node that ends without running (skipped, or a join whose section failed)."""
        if (scope.key, node_id) in self.recorded and (scope.key, node_id) not in self.replay:
            return
        earlier = self.replay.pop((scope.key, node_id), None)
        if earlier is not None and earlier["status"] == status:
            return  # recorded so by an earlier engine (a restart, a redrive): no second row
        node = self.plan.graph.nodes[node_id]
        row = self.new_row(scope, node, self.attempt_counts.get((scope.key, node_id), 0) + 1, status, None)
        row["finished_at"] = row["queued_at"]
        row["error"] = error
        self.event(f"node.{status}", row, data={"error": error} if error else None)

    def apply(self, scope: ScopeRun, actions: Actions) -> None:
        if self.held:
            self.take_up_held()  # whatever happens next (a cancel, a join) sees every node run
        ready = actions.ready
        free = self.plan.max_concurrency - self.in_flight - len(self.ready)
        if len(ready) > HOLD_BURST_OVER and len(ready) > free and scope is self.top and not self.replay \
                and self.status == "running":
            # A fan-out of hundreds: queueing each node run costs ~17 µs, and the first
            # ones would wait for all of them (7 ms for 400) before starting. Queue as many
            # as can start now; the rest are queued in chunks while they run (stamped with
            # this moment, when they became ready), and all at once before anything else
            # happens to this execution (a completion, a cancel).
            ready, held_at = ready[:max(free, 0)], now()
            self.held.extend((node_id, held_at) for node_id in actions.ready[len(ready):])
            self.engine.mark_dirty(self)
        for node_id in ready:
            self.node_ready(scope, node_id)
        for node_id, reason in actions.skipped:
            self.record_settled(scope, node_id, "skipped", {"message": reason})
        for node_id, reason in actions.cancel:
            attempt = scope.attempts.get(node_id)
            if attempt is not None:
                self.cancel_attempt(attempt, reason)
        for node_id, error in actions.join_failed:
            self.record_settled(scope, node_id, "failed", error)
            self.apply(scope, scope.sched.finish(node_id, Outcome("failed", error=error)))
        self.check_scope(scope)

    def take_up_held(self, limit: int | None = None) -> None:
        """Queue the node runs of a burst that `apply` held back (at most `limit` of them)."""
        taken = 0
        batch = self.engine.batch
        events = len(batch.events)
        while self.held and (limit is None or taken < limit):
            node_id, held_at = self.held.popleft()
            self.node_ready(self.top, node_id, queued_at=held_at)
            taken += 1
        # Their `node.queued` events must not hold back the next wave of the burst itself
        # (a 400-wide fan-out queues ~400 events at once, four times the bound).
        batch.unpaced_events += len(batch.events) - events

    def cancel_attempt(self, attempt: Attempt, reason: str) -> None:
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        if attempt.loop is not None:
            attempt.loop.cancel(reason)
        self.finalize(attempt, "cancelled", error={"message": reason})

    def check_scope(self, scope: ScopeRun) -> None:
        if scope.done or not scope.sched.finished or scope.attempts:
            return
        if self.lingering and any(loop.attempt.scope is scope for loop in self.lingering):
            return
        scope.done = True
        if scope.on_done is not None:
            scope.on_done(scope)
        elif scope is self.top:
            self.finish()

    # -- the end -------------------------------------------------------------------------
    def finish(self, status: str | None = None, error: Any = None) -> None:
        if self.finished:
            return
        self.finished = True
        for row in self.unstarted.values():  # queued before a restart, never reached again
            self.engine.batch.node_runs[row["id"]] = {**row, "status": "cancelled", "finished_at": now()}
        self.unstarted.clear()
        if status is None:
            failed = self.top.sched.failed
            status = "failed" if failed else "succeeded"
            error = failed
        self.final_status = status
        if isinstance(error, dict) and isinstance(error.get("rollback"), list):
            self.rollback_report = error["rollback"]
        output = {
            self.plan.graph.nodes[n].name: self.top.outputs[n] for n in self.plan.output_nodes if n in self.top.outputs
        }
        self.update_execution(status=status, output=output if status == "succeeded" else (output or None),
                              error=error, finished_at=now())
        self.save_state()
        self.event(f"execution.{status}", status=status, data={"error": error} if error else None)
        self.engine.execution_finished(self)

    def cancel(self, reason: str, *, final_status: str = "cancelled") -> None:
        """Stop for good: running node runs are cancelled, nothing new starts."""
        if self.finished:
            return
        self.cancelled_reason = reason
        self.take_up_held()  # held node runs are recorded, then cancelled like the rest
        for attempt in list(self.active.values()):
            self.cancel_attempt_quiet(attempt, reason)
        self.ready.clear()
        self.finish(final_status, {"message": reason})

    def cancel_attempt_quiet(self, attempt: Attempt, reason: str) -> None:
        if attempt.ctx is not None:
            attempt.ctx.cancel()
        if attempt.loop is not None:
            attempt.loop.stopped = True
        self.finalize(attempt, "cancelled", error={"message": reason}, propagate=False)

    def run_detached(self, node_id: str, node_input: Any) -> None:
        """Run one node outside the flow (a custom signal handler), while the run goes on."""
        node = self.plan.graph.nodes.get(node_id)
        if node is None:
            self.event("log", status=self.status, data={"message": f"signal handler node {node_id!r} not found"})
            return
        scope = self.top
        key = (scope.key, node_id)
        attempt_no = self.attempt_counts.get(key, 0) + 1
        self.attempt_counts[key] = attempt_no
        row = self.new_row(scope, node, attempt_no, "queued", node_input)
        attempt = Attempt(row["id"], self, scope, node, attempt_no, row, node_policy(node.config), node_input,
                          detached=True)
        self.active[attempt.id] = attempt
        self.event("node.queued", row)
        self.ready.append(attempt)
        self.engine.mark_dirty(self)
