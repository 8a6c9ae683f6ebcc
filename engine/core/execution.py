"""One execution on the coordinator: its status, its node run attempts from start to end
(one path for the flow's nodes, signal handlers and compensations, one retry loop), and
its end.

The parts it is made of, each with one job: `Recorder` (engine.core.records) writes every
node-run row and event; `RunHistory` (engine.core.history) knows what earlier engines ran;
`Flow` (engine.core.flow) turns the schedulers' decisions into node runs; `WholeBranches`
(engine.core.whole_branches) drives branches with settings of their own. Loops, signals and
rollback use the public methods below. Only the coordinator thread touches these objects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.attempts import NodeRuns
from engine.core.clocks import execution_started, time_left
from engine.core.flow import Flow
from engine.core.history import RunHistory
from engine.core.pacing import HOLD_CHUNK
from engine.core.persistence import ExecutionRecord, now
from engine.core.plan import VersionPlan
from engine.core.records import FINAL, NodeRunRow, Recorder, small
from engine.core.redrive import cut_by_design, redrives
from engine.core.run_until import RunUntil
from engine.core.scheduler import Actions
from engine.core.scopes import Attempt, BranchRun, ScopeRun
from engine.core.signals import pending_handler_ids
from engine.core.whole_branches import WholeBranches

if TYPE_CHECKING:
    from engine.core.engine import Engine
    from engine.core.graph import Node
    from engine.core.policies import NodePolicy

__all__ = ["FINAL", "Attempt", "BranchRun", "ExecutionRun", "ScopeRun"]

# Statuses an execution has in memory; "cancelling" (a rollback runs) is stored as "running".
STORED_STATUS = {"cancelling": "running"}


class ExecutionRun:
    """One execution this engine runs: its status and state, its start and its end; the node
    runs, the flow and the branches are its parts (`runs`, `flow`, `branches`)."""

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
        # State that must survive a restart: the approval that waits, an unfinished rollback
        # (engine.core.signals / rollback), the branches between or in retries
        # (engine.core.whole_branches).
        self.extra_state: dict[str, Any] = {k: v for k, v in state.items() if k in (
            "awaiting", "granted", "rollback", "notify", "otel", "redrive", "branchRetries", "branchEnds", "handlers",
            # "Run to here": the node a test run stops at (engine.core.run_until), and the
            # nodes whose pins are an earlier run's outputs (engine.reuse).
            "runUntil", "reused")}
        self.run_until: RunUntil | None = RunUntil.of(plan, state.get("runUntil")) if "runUntil" in state else None
        # Pinned test data: {node id: output}, fixed when the run was recorded
        # (engine.services.execution_start) and stored apart from the state, which every
        # `save_state` rewrites whole; read again at every claim, takeover and redrive.
        self.pinned: dict[str, Any] | None = record.pinned or None
        if self.pinned is None and isinstance(state.get("pinned"), dict):
            # A run recorded when the pins lived in its state: they stay there (and are
            # saved with it) until it ends, as they were.
            self.extra_state["pinned"] = self.pinned = state["pinned"]
        # The stored rows of custom handler node runs that had not ended (the `handlers`
        # above): a takeover carries them on (engine.core.signals).
        pending = pending_handler_ids(self.extra_state)
        self.handler_rows: list[dict[str, Any]] = [r for r in record.node_runs if r.get("id") in pending] if pending else []
        self.awaiting: Attempt | None = None  # the approval node run the execution waits on
        self.compensable: list[dict[str, Any]] = []  # succeeded node runs with `compensate`
        # Set when this run replays loop-item dead letters: loop node id -> the items to run
        # instead of the whole array (engine.dead_letters; read by engine.core.loops).
        self.dead_letter_replay: dict[str, Any] = state.get("deadLetterReplay") or {}
        self.in_flight = 0
        self.ready: deque[Attempt] = deque()
        # Nodes of a burst made ready at once, held back while the first of them start
        # (`Flow.apply`), then queued a chunk per pass.
        self.held: deque[tuple[str, datetime]] = deque()
        self.active: dict[str, Attempt] = {}
        # Loops that failed fast while items still run (no cancelOnFailure): their scope
        # does not end before those items do (engine.core.loops).
        self.lingering: set[Any] = set()
        self.finished = False
        self.final_status: str | None = None
        self.rollback_report: list[dict[str, Any]] = []  # how each compensation ended (for the mail)
        self.cancelled_reason: str | None = None
        self.rec = Recorder(engine, record.id, record.trace_id, record.owner, last_seq=record.last_seq,
                            run_seq=max((r.get("seq", 0) for r in record.node_runs), default=0),
                            max_node_runs=engine.options.execution_max_node_runs)
        redrive = self.extra_state.get("redrive") or {}
        self.history = RunHistory.load(plan.graph, record.node_runs, redrive, self.rec, waiting=pending)
        # Loop items that did not succeed, stored as the execution's `failed_items` at the
        # end (engine.core.loops counts each loop run's at its end; kept loop runs from before).
        self.failed_items = self.history.kept_failed_items
        self.top_loop_failed_items: dict[str, int] = {}
        # Clocks an engine that stops must not reset (engine.core.clocks) count from what the
        # earlier engines wrote; a redrive's from its own node runs (those after `sinceSeq`).
        self.redrive_since = int(redrive.get("sinceSeq") or 0)
        self.started_clock = execution_started(record.node_runs, self.redrive_since) if plan.timeout_ms else None
        self.runs = NodeRuns(self)
        self.flow = Flow(self, record.node_runs)
        self.branches = WholeBranches(self, record.node_runs)
        self.top = ScopeRun(self, plan.scopes[None])
        self.top.locals["__execution_input"] = self.input

    # -- state and status ------------------------------------------------------------------
    def save_state(self) -> None:
        state = {**self.extra_state, "variables": self.variables, "signal": self.signal,
                 "pauseReason": self.pause_reason}
        if self.dead_letter_replay:
            state["deadLetterReplay"] = self.dead_letter_replay
        self.rec.execution(state=state)

    def set_status(self, status: str, event: str | None = None, *, reason: str = "", row: NodeRunRow | None = None,
                   data: Any = None, **fields: Any) -> None:
        """The one way the execution's status changes: in memory, in its persisted state and
        row (with `fields`), announced by `event` when given."""
        self.status = status
        self.pause_reason = reason
        stored = STORED_STATUS.get(status, status)
        self.save_state()
        self.rec.execution(status=stored, **fields)
        if event is not None:
            self.rec.event(event, row, status=stored, data=data)

    def log(self, attempt: Attempt, message: str) -> None:
        self.rec.log(attempt.row, message)

    # -- the flow (engine.core.flow) ---------------------------------------------------------
    def apply(self, scope: ScopeRun, actions: Actions) -> None:
        self.flow.apply(scope, actions)

    def check_scope(self, scope: ScopeRun) -> None:
        self.flow.check_scope(scope)

    def take_up_held(self, limit: int | None = None) -> None:
        self.flow.take_up_held(limit)

    # -- node runs (engine.core.attempts), for loops, signals, rollback and the engine ---------
    def start_detached(self, node: Node, node_input: Any, policy: NodePolicy, *,
                       on_finish: Callable[[Attempt], None] | None = None, data: Any = None,
                       at_once: bool = False, durable: bool = False, tries_before: int | None = None,
                       retry_in: float | None = None) -> Attempt:
        return self.runs.start_detached(node, node_input, policy, on_finish=on_finish, data=data, at_once=at_once,
                                        durable=durable, tries_before=tries_before, retry_in=retry_in)

    def start_attempt(self, attempt: Attempt) -> None:
        self.runs.start_attempt(attempt)

    def complete(self, attempt: Attempt, value: Any, exc: BaseException | None) -> None:
        self.runs.complete(attempt, value, exc)

    def timed_out(self, attempt: Attempt) -> None:
        self.runs.timed_out(attempt)

    def fail_attempt(self, attempt: Attempt, error: dict[str, Any], *, retryable: bool, status: str = "failed") -> None:
        self.runs.fail_attempt(attempt, error, retryable=retryable, status=status)

    def finalize(self, attempt: Attempt, status: str, *, output: Any = None, error: Any = None,
                 handle: str | None = None, propagate: bool = True) -> None:
        self.runs.finalize(attempt, status, output=output, error=error, handle=handle, propagate=propagate)

    def cancel_attempt_quiet(self, attempt: Attempt, reason: str) -> None:
        self.runs.cancel_attempt_quiet(attempt, reason)

    def restart_attempt(self, attempt: Attempt, reason: str) -> None:
        self.runs.restart_attempt(attempt, reason)

    # -- starting ----------------------------------------------------------------------------
    def start(self) -> None:
        redrive = self.extra_state.get("redrive")
        if redrive and redrive.get("pending"):
            self.extra_state["redrive"] = {**redrive, "pending": False}
            self.save_state()
            self.rec.event("execution.resumed", status="running",
                           data={"reason": "redrive", "redrive": redrive.get("number"), "sinceSeq": redrive.get("sinceSeq")})
        elif not self.history.replay and not self.history.recorded:
            self.set_status("running", "execution.started", reason=self.pause_reason, started_at=now())
        else:
            self.rec.event("execution.resumed" if self.status == "running" else "execution.paused",
                           status=self.status, data={"reason": "engine restarted"})
        if self.plan.timeout_ms:
            # After a restart, what is left of it since the execution began (maybe nothing).
            self.engine.add_timer(time_left(self.started_clock, self.plan.timeout_ms / 1000),
                                  self._execution_timeout, self)
        self.apply(self.top, self.top.sched.start())

    def _execution_timeout(self) -> None:
        if not self.finished:
            self.cancel(f"execution timeout of {self.plan.timeout_ms} ms reached", final_status="timed_out")

    # -- running -----------------------------------------------------------------------------
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
            self.runs.start_attempt(attempt)
            if self.held and not self.ready:
                self.take_up_held(HOLD_CHUNK)  # the first of a burst have started: queue more
        if self.held:
            # A chunk per pass, so that the timers of the node runs just started fire on
            # time between chunks (the engine keeps an execution that holds nodes dirty).
            self.take_up_held(HOLD_CHUNK)
        return done

    # -- the end -----------------------------------------------------------------------------
    def stop_all(self, reason: str) -> None:
        """Cancel every node run that is held, queued or running; nothing follows from them."""
        self.take_up_held()  # held node runs are recorded, then cancelled like the rest
        for attempt in list(self.active.values()):
            self.runs.cancel_attempt_quiet(attempt, reason)
        self.ready.clear()

    def cancel(self, reason: str, *, final_status: str = "cancelled") -> None:
        """Stop for good: running node runs are cancelled, nothing new starts."""
        if self.finished:
            return
        self.cancelled_reason = reason
        self.stop_all(reason)
        self.finish(final_status, {"message": reason})

    def finish(self, status: str | None = None, error: Any = None) -> None:
        if self.finished:
            return
        self.finished = True
        self.extra_state.pop("branchRetries", None)  # nothing retries any more (nor on a redrive)
        self.extra_state.pop("branchEnds", None)
        self.extra_state.pop("handlers", None)  # a handler's takeover ends with the run (a redrive does not run it)
        for row in self.history.unstarted.values():  # queued before a restart, never reached again
            self.rec.abandoned(row)
        self.history.unstarted.clear()
        if status is None:
            failed = self.top.sched.failed
            status = "failed" if failed else "succeeded"
            error = failed
        self.final_status = status
        if isinstance(error, dict) and isinstance(error.get("rollback"), list):
            self.rollback_report = error["rollback"]
        # A run to one node has no output node on its way: its output is that node's.
        shown = self.plan.output_nodes if self.run_until is None else [self.run_until.node]
        output = {self.plan.graph.nodes[n].name: self.top.outputs[n] for n in shown if n in self.top.outputs}
        failed_nodes, failed_items = self.redrivable(status)
        # The event carries the error cut like a node run's (the row keeps it whole): it goes
        # to every watching websocket, and a loop's failures can be thousands of items. The
        # counts go in the same UPDATE of the execution row as its end (no statement of their
        # own), always, so that a redrive that fixed everything leaves 0.
        self.set_status(status, f"execution.{status}", reason=self.pause_reason,
                        data={"error": small(error)} if error else None,
                        output=output if status == "succeeded" else (output or None), error=error, finished_at=now(),
                        failed_nodes=failed_nodes, failed_items=failed_items)
        self.engine.execution_finished(self)

    def redrivable(self, status: str) -> tuple[int, int]:
        """(top-level node runs, loop items) that a redrive without a selection re-runs
        (engine.core.redrive.redrives): what "Redrive failed (…)" offers. A loop whose own
        run failed through its items is counted as those items, not as a node as well; a
        custom signal handler or a compensation (outside the flow) is not redriven."""
        loops = self.top_loop_failed_items
        items = self.failed_items + sum(loops.values())
        flow = self.top.sched.state  # the top-level nodes of the flow
        after_success = status == "succeeded"
        cut = cut_by_design(self.plan.graph, self.rec.top_rows)
        nodes = sum(1 for node_id, row in self.rec.top_rows.items()
                    if node_id in flow and not loops.get(node_id) and node_id not in cut
                    and redrives(row["status"], top_level=True, after_success=after_success))
        return nodes, items
