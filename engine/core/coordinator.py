"""The coordinator: the one thread on which every state change of an execution happens.

Why one thread: the scheduler needs no locks, `seq` stays gap-free, and all the writes of
a tick can be committed together (group commit, engine.core.writer) before anything is
announced. Workers only run node bodies and post results back to the inbox.

The loop (`run`):
1. wait for a message (node result, log line, signal, claim request) or the next timer
   (engine.core.timers); wait for the writer instead while it is far behind;
2. handle every message that is waiting, fire due timers;
3. let dirty executions start ready node runs (inline nodes run right here);
4. now and then, the housekeeping of engine.core.claims (poll, heartbeat);
5. hand the tick's batch to the writer, which commits it, announces it, and only then
   submits the claimed node runs to the executor — or, with an executor that
   `submits_before_commit` (bodies in other processes), submit them right away and record
   their results only once the writer has committed their start (`_hold`).
The pacing of each step is in engine.core.pacing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core import pacing
from engine.core.persistence import Batch, now
from engine.core.records import NodeRunBoundReached
from engine.core.timers import Timers, clock, precise_timers
from engine.core.writer import Writer, reason
from engine.executors.base import Executor

if TYPE_CHECKING:
    from engine.core.claims import Claims
    from engine.core.execution import Attempt, ExecutionRun

log = logging.getLogger("engine")


class Coordinator:
    # Set by the engine before the loop starts (they need the coordinator themselves).
    writer: Writer
    claims: Claims

    def __init__(self, timers: Timers, executor: Executor, *, poll_interval: float, heartbeat_interval: float):
        self.timers = timers
        self.executor = executor
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.executions: dict[Any, ExecutionRun] = {}
        self.dirty: dict[ExecutionRun, None] = {}  # executions that may have node runs to start
        # The tick being built: its writes, the node runs it started, the executions it ended.
        self.batch = Batch()
        self.to_submit: list[Attempt] = []
        self.finished: list[Any] = []
        self.submitted: dict[str, Attempt] = {}  # node runs with the executor right now
        # Submitted before their start is committed (engine.executors.base): attempt id →
        # the first result that came back meanwhile (None: none yet), held until the writer
        # has committed the start. Shared with the writer thread, under the lock.
        self.early = bool(getattr(executor, "submits_before_commit", False))
        self._uncommitted: dict[str, tuple[Any, ...] | None] = {}
        self._uncommitted_lock = threading.Lock()
        self.tick_deadline = 0.0
        self.tick_mono = clock()
        self.tick_wall = now()
        self.draining = False
        self.started = threading.Event()
        self._ident: int | None = None

    def post(self, message: tuple[Any, ...]) -> None:
        """Put a message in the inbox (any thread)."""
        self.inbox.put(message)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        self._ident = threading.get_ident()
        next_poll = 0.0
        next_heartbeat = clock() + self.heartbeat_interval
        drain_deadline: float | None = None
        precise_timers()
        self.started.set()
        while True:
            timeout, spin_until = self.timers.wait(self.poll_interval)
            if self.dirty and not self.draining:  # draining starts nothing: no reason to spin
                # Work is waiting: go straight on, or (writer behind) when the writer's next
                # commit wakes us (flag first, then look: a commit in between still wakes us)…
                self.writer.wake_on_commit(True)
                # (…but never past a timer's due time.)
                timeout = min(timeout, pacing.WRITE_BEHIND_RECHECK_S) if self.writer.behind() else 0.0
                spin_until = 0.0
                self.writer.wake_on_commit(timeout > 0)
            try:
                message: tuple[Any, ...] | None = self.inbox.get(timeout=timeout)
            except queue.Empty:
                message = None
                if spin_until:
                    self.timers.spin(spin_until)
            self.writer.wake_on_commit(False)
            handled = 0
            while message is not None:
                if message[0] == "drain":
                    drain_deadline = message[1]
                    self.draining = True
                    # Woken at the deadline, not at the next poll after it (a worker's stop
                    # has a few seconds before it is killed).
                    self.timers.add(max(0.0, drain_deadline - clock()), lambda: None)
                else:
                    self.safe(self._handle, message)
                handled += 1
                if handled > pacing.INBOX_BATCH:
                    break
                try:
                    message = self.inbox.get_nowait()
                except queue.Empty:
                    message = None
            self.timers.fire_due(self.guarded, self.safe)
            if not self.draining and not self.writer.behind():
                # While draining, node runs already on workers may finish, but nothing new
                # starts: the engine that takes over replays and starts what became ready.
                self._dispatch()
            mono, next_timer = clock(), self.timers.next_due()
            # The poll and the heartbeat: not right before a timer comes due (engine.core.pacing).
            if not self.draining and pacing.housekeeping_now(mono, next_poll, next_timer):
                next_poll = mono + self.poll_interval
                self.safe(self.claims.poll)
            if pacing.housekeeping_now(mono, next_heartbeat, next_timer):
                next_heartbeat = mono + self.heartbeat_interval
                self.safe(self.claims.heartbeat)
            self._flush()
            if drain_deadline is not None:
                busy = any(a.holds_slot and a.impl is not None and a.id in self.submitted
                           for ex in self.executions.values() for a in ex.active.values())
                if not busy or clock() >= drain_deadline:
                    self.safe(self.claims.release)
                    return

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, attempt, value, exc = message
            if self.early and self._hold(attempt.id, message):
                return
            self.submitted.pop(attempt.id, None)
            self.guarded(attempt.ex, attempt.ex.complete, attempt, value, exc)
        elif kind == "log":
            _, attempt, text = message
            self.guarded(attempt.ex, attempt.ex.log, attempt, text)
        elif kind == "remote_done":
            # From another process, by attempt id: the first result of an attempt still
            # with the executor counts; a redelivered body's second result, or one for an
            # attempt of an execution this engine no longer drives, finds nothing.
            _, attempt_id, value, exc = message
            if self.early and self._hold(attempt_id, message):
                return
            attempt = self.submitted.pop(attempt_id, None)
            if attempt is not None:
                self.guarded(attempt.ex, attempt.ex.complete, attempt, value, exc)
        elif kind == "remote_log":
            attempt = self.submitted.get(message[1])
            if attempt is not None and attempt.active:
                self.guarded(attempt.ex, attempt.ex.log, attempt, message[2])
        elif kind == "claim":
            self.claims.on_request()
        elif kind == "signal":
            self.claims.on_signal(message[1])
        elif kind == "call":
            message[1]()
        elif kind == "committed":
            pass  # only wakes the coordinator: the write-behind bound may allow new work
        elif kind == "lost":
            attempt = message[1]
            attempt.status = "lost"
            attempt.ex.active.pop(attempt.id, None)
            if self.early:
                # Its body went out before the claim was refused: whatever it reports is
                # ignored, and a body still waiting in a queue is called off.
                with self._uncommitted_lock:
                    self._uncommitted.pop(attempt.id, None)
                self.submitted.pop(attempt.id, None)
                if attempt.ctx is not None:
                    attempt.ctx.cancel()
        elif kind == "stopped":  # the writer recorded its failure (Writer._stop_failed)
            ex = self.executions.get(message[1])
            if ex is not None:
                self.drop(ex)

    def _dispatch(self) -> None:
        # Node runs started in one pass share its start time. A delay's timer counts from
        # it, so the delays of a fan-out end together and are finished in one wake-up
        # instead of one wake-up each (the timeline shows them starting together, as they did).
        self.tick_mono = clock()
        self.tick_wall = now()
        self.tick_deadline = self.tick_mono + pacing.TICK_TIME_S
        budget = pacing.TICK_BUDGET
        while self.dirty and budget > 0:
            if budget < pacing.TICK_BUDGET and clock() > self.tick_deadline:
                return  # still dirty: the loop flushes, then comes straight back
            ex = next(iter(self.dirty))
            del self.dirty[ex]
            if ex.finished:
                continue
            budget -= self.guarded(ex, ex.dispatch, budget) or 0
            if not ex.finished and ((ex.ready and ex.in_flight < ex.plan.max_concurrency and ex.status == "running")
                                    or ex.held):
                self.dirty[ex] = None

    def _flush(self) -> None:
        """Hand the tick to the writer thread; the coordinator never waits on the database."""
        batch, self.batch = self.batch, Batch()
        submit, self.to_submit = self.to_submit, []
        finished, self.finished = self.finished, []
        if self.early and submit:
            self._submit_now(submit)
        self.writer.hand_off(batch, submit, finished)

    def _submit_now(self, submit: list[Attempt]) -> None:
        """Give these node runs to the executor before their start is committed (an
        executor that `submits_before_commit`); their results wait for the commit (`_hold`)."""
        with self._uncommitted_lock:
            for attempt in submit:
                self._uncommitted[attempt.id] = None
        for attempt in submit:
            if attempt.status == "running":  # not cancelled or timed out in this same tick
                self.submitted[attempt.id] = attempt
                self.executor.submit(attempt)

    def _hold(self, attempt_id: str, message: tuple[Any, ...]) -> bool:
        """Keep a result of a node run whose start is not committed yet (the first one:
        a second delivery of the same body changes nothing); True if held."""
        with self._uncommitted_lock:
            if attempt_id not in self._uncommitted:
                return False
            if self._uncommitted[attempt_id] is None:
                self._uncommitted[attempt_id] = message
            return True

    def on_started(self, attempt: Attempt) -> None:
        """The writer committed this node run's start (writer thread; not called for a
        claim that was lost): its body goes to the executor, or, submitted already, a
        result held meanwhile goes back to the inbox to be recorded."""
        if self.early:
            with self._uncommitted_lock:
                held = self._uncommitted.pop(attempt.id, None)
            if held is not None:
                self.inbox.put(held)
            return
        if attempt.status != "running":
            return  # cancelled or timed out while its start was being written
        self.submitted[attempt.id] = attempt
        self.executor.submit(attempt)

    # -- what executions ask of the coordinator (coordinator thread) -------------------------------
    def start_stamp(self, queued_at: datetime) -> tuple[float, datetime]:
        """(monotonic, wall) start time of a node run: the current tick's when it is fresh
        and the node run was queued before it; else a new tick, which the node runs started
        right after share (e.g. a layer queued by an inline join)."""
        mono = clock()
        if mono - self.tick_mono >= pacing.TICK_STAMP_FRESH_S or queued_at > self.tick_wall:
            self.tick_mono, self.tick_wall = mono, now()
        return self.tick_mono, self.tick_wall

    def post_log(self, attempt: Attempt, message: str) -> None:
        """A node body's log line (any thread)."""
        if threading.get_ident() == self._ident:
            attempt.ex.log(attempt, message)
        else:
            self.inbox.put(("log", attempt, message))

    def execution_finished(self, ex: ExecutionRun) -> None:
        self.executions.pop(ex.id, None)
        self.dirty.pop(ex, None)
        self.finished.append(ex.id)

    # -- one execution's failure is its own ----------------------------------------------------
    def guarded(self, ex: ExecutionRun, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one step of one execution (its start, a node result, a signal, a timer):
        an exception fails that execution with the reason, and the engine goes on."""
        try:
            return fn(*args)
        except NodeRunBoundReached as exc:
            # Not a bug: a bound of the execution's own making, said as it is.
            log.warning("engine: execution %s failed: %s", ex.id, exc)
            self.fail_execution(ex, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - one execution's bug is that execution's failure
            log.exception("engine: execution %s failed in %s", ex.id, getattr(fn, "__name__", fn))
            self.fail_execution(ex, f"internal error: {type(exc).__name__}: {reason(exc)}")
            return None

    def fail_execution(self, ex: ExecutionRun, message: str) -> None:
        """End `ex` as failed: the usual way (node runs cancelled, the end recorded) when
        that works, else by dropping it and letting the writer record the failure alone."""
        if ex.finished:
            return
        try:
            ex.cancel(message, final_status="failed")
            return
        except Exception:  # noqa: BLE001 - its state is broken: stop it without it
            log.exception("engine: execution %s could not be cancelled; stopping it", ex.id)
        self.drop(ex)
        self.batch.failures[ex.id] = {"message": message}

    def drop(self, ex: ExecutionRun) -> None:
        """Stop driving `ex` at once, writing nothing more for it."""
        self.executions.pop(ex.id, None)
        self.dirty.pop(ex, None)
        ex.finished = True  # late results, timers and deadlines become no-ops
        for attempt in list(ex.active.values()):
            attempt.status = "lost"
            for timer in attempt.timers:
                timer.cancelled = True
            if attempt.ctx is not None:
                attempt.ctx.cancel()
            if attempt.loop is not None:
                attempt.loop.stopped = True
        ex.active.clear()
        ex.ready.clear()
        ex.held.clear()

    @staticmethod
    def safe(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - the coordinator must survive anything
            log.exception("engine: %s failed", getattr(fn, "__name__", fn))
            return None
