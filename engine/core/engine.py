"""The engine process: one coordinator thread, a worker pool, timers, and persistence.

Why one coordinator: every state change of an execution happens on one thread, so the
scheduler needs no locks, `seq` stays gap-free, and all the writes of a tick can be
committed together (group commit) before anything is announced. Workers only run node
bodies (HTTP calls, JavaScript) and post results back; `delay` waits are timers, not
sleeping threads, so 10,000 waiting loop items cost no threads at all.

Coordinator loop:
1. wait for a message (node result, log line, signal, new execution) or the next timer;
2. handle every message that is waiting, fire due timers;
3. let dirty executions start ready node runs (inline nodes run right here);
4. flush the tick's batch in one transaction, hand it to the announcer thread, and only
   then submit the claimed node runs to the worker pool.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.core import pacing
from engine.core.execution import Attempt, ExecutionRun
from engine.core.graph import DefinitionError
from engine.core.persistence import Batch, ExecutionRecord, Persistence, SignalRecord, now
from engine.core.plan import PlanCache
from engine.core.timers import Timer, Timers, clock, precise_timers
from engine.core.writer import Announcer, Writer, reason
from engine.executors.base import Executor
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import EngineOptions

log = logging.getLogger("engine")

class Engine:
    def __init__(
        self,
        persistence: Persistence,
        *,
        max_workers: int = 32,
        options: EngineOptions | None = None,
        engine_id: str | None = None,
        poll_interval: float = 0.5,
        heartbeat_interval: float = 2.0,
        stale_after: float = 15.0,
        worker_initializer: Callable[[], None] | None = None,
        executor: Executor | None = None,
    ):
        self.persistence = persistence
        self.options = options or EngineOptions()
        self.engine_id = engine_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.max_workers = max_workers
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.timers = Timers()
        self.executions: dict[Any, ExecutionRun] = {}
        self.batch = Batch()
        self.to_submit: list[Attempt] = []
        self.dirty: dict[ExecutionRun, None] = {}
        self.plans = PlanCache()
        # Where node bodies that do not run inline run (engine.executors).
        self.executor: Executor = executor or ThreadExecutor(max_workers, initializer=worker_initializer)
        self.announcer = Announcer(persistence)
        self.writer = Writer(persistence, self.engine_id, self.announcer, post=self.inbox.put,
                             on_started=self._on_started, on_finished=self._on_finished)
        self._writer: threading.Thread | None = None
        self._finished_events: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()
        self._notifications: dict[Any, tuple[list[str], str, str]] = {}
        self._claim_pending = False
        self._claim_deferred = False
        self._last_wake_claim = 0.0
        self.tick_deadline = 0.0
        self.tick_mono = clock()
        self.tick_wall = now()  # sent after the final commit
        self._thread: threading.Thread | None = None
        self._announcer: threading.Thread | None = None
        self._draining = False
        self._coordinator_ident: int | None = None
        self.started = threading.Event()
        self._applied_signals: set[Any] = set()
        self._submitted: dict[str, Attempt] = {}  # node runs with the executor right now

    # -- public API (any thread) ---------------------------------------------------------
    def start(self) -> Engine:
        self.executor.start(self)
        self._thread = threading.Thread(target=self._thread_main(self._run), name="fm-coordinator", daemon=True)
        self._announcer = threading.Thread(target=self._thread_main(self.announcer.run), name="fm-announcer",
                                           daemon=True)
        self._announcer.start()
        self._writer = threading.Thread(target=self._thread_main(self.writer.run), name="fm-writer", daemon=True)
        self._writer.start()
        self._thread.start()
        self.started.wait(10)
        return self

    def _thread_main(self, body: Callable[[], None]) -> Callable[[], None]:
        """`body`, then the store's `thread_done` on the same thread: a
        database connection is per thread, and one left open by a stopped engine's thread
        would stay taken (a pool slot, a server connection) until the process ends."""

        def main() -> None:
            try:
                body()
            finally:
                self.persistence.thread_done()

        return main

    def stop(self, grace: float = 5.0) -> None:
        """Drain: stop claiming and starting, let running node runs finish within `grace`,
        then release the executions so another engine can pick them up at once."""
        if self._thread is None:
            return
        self.inbox.put(("drain", clock() + grace))
        self._thread.join(grace + 10)
        self.writer.stop()
        if self._writer is not None:
            self._writer.join(30)
        self.executor.shutdown()
        self.announcer.stop()
        if self._announcer is not None:
            self._announcer.join(5)
        self._thread = None

    def submit(self, execution_id: Any) -> None:
        """A new execution was queued: claim it without waiting for the next poll. At most
        one claim waits in the inbox: under a burst of run requests, one claim picks up
        every run committed before it starts (each claim reads the queue)."""
        with self._lock:
            if self._claim_pending:
                return
            self._claim_pending = True
        self.inbox.put(("claim",))

    def signal(self, execution_id: Any) -> None:
        self.inbox.put(("signal", execution_id))

    # -- reports of the executor (any thread; engine.executors.base.Reports) ------------------
    def done(self, attempt: Attempt, value: Any, exc: BaseException | None) -> None:
        self.inbox.put(("done", attempt, value, exc))

    def remote_done(self, attempt_id: str, value: Any, exc: BaseException | None) -> None:
        self.inbox.put(("remote_done", attempt_id, value, exc))

    def remote_log(self, attempt_id: str, line: str) -> None:
        self.inbox.put(("remote_log", attempt_id, line))

    def control(self, message: dict[str, Any]) -> None:
        if message.get("t") == "signal":
            self.signal(message.get("e"))
        elif message.get("t") == "claim":
            self.submit(message.get("e"))

    def wait(self, execution_id: Any, timeout: float = 30.0) -> bool:
        with self._lock:
            event = self._finished_events.setdefault(execution_id, threading.Event())
        return event.wait(timeout)

    # -- used by executions (coordinator thread) --------------------------------------------
    def add_timer(self, delay_s: float, callback: Callable[[], None], ex: ExecutionRun | None = None) -> Timer:
        """Call `callback` after `delay_s` seconds (engine.core.timers)."""
        return self.timers.add(delay_s, callback, ex)

    clock = staticmethod(clock)  # the core's one monotonic clock (engine.core.timers)

    def start_stamp(self, queued_at: datetime) -> tuple[float, datetime]:
        """(monotonic, wall) start time of a node run: the current tick's when it is fresh
        (under 2 ms) and the node run was queued before it; else a new tick, which the
        node runs started right after share (e.g. a layer queued by an inline join)."""
        mono = clock()
        if mono - self.tick_mono >= pacing.TICK_STAMP_FRESH_S or queued_at > self.tick_wall:
            self.tick_mono, self.tick_wall = mono, now()
        return self.tick_mono, self.tick_wall

    def on_worker(self, attempt_id: str) -> bool:
        """Is this node run's body with the executor (a worker thread or process) right now?"""
        return attempt_id in self._submitted

    def mark_dirty(self, ex: ExecutionRun) -> None:
        self.dirty[ex] = None

    def submit_work(self, attempt: Attempt) -> None:
        self.to_submit.append(attempt)

    def post_log(self, attempt: Attempt, message: str) -> None:
        if threading.get_ident() == self._coordinator_ident:
            attempt.ex.log(attempt, message)
        else:
            self.inbox.put(("log", attempt, message))

    def execution_finished(self, ex: ExecutionRun) -> None:
        self.executions.pop(ex.id, None)
        self.dirty.pop(ex, None)
        self._pending_finish.append(ex.id)
        notify = ex.extra_state.get("notify")
        if notify and self.notifier is not None:
            self._send_notification(ex, notify)

    def _send_notification(self, ex: ExecutionRun, notify: dict[str, Any]) -> None:
        status = ex.final_status or "finished"
        lines = [f"Execution {ex.id} ({ex.trace_id}) was cancelled by {notify.get('by')}: {notify.get('reason')}",
                 f"Final status: {status}."]
        for item in ex.rollback_report:
            lines.append(f"Compensation {item.get('compensate')} for {item.get('nodeId')}: {item.get('status')}")
        subject = f"FlowMaestro: execution {ex.id} {status}"
        with self._lock:  # the writer sends it once the final status is committed
            self._notifications[ex.id] = (list(notify.get("to") or []), subject, "\n".join(lines))

    # -- coordinator ------------------------------------------------------------------------
    _pending_finish: list[Any]

    def _run(self) -> None:
        self._coordinator_ident = threading.get_ident()
        self._pending_finish = []
        next_poll = 0.0
        next_heartbeat = clock() + self.heartbeat_interval
        drain_deadline: float | None = None
        precise_timers()
        self.started.set()
        while True:
            timeout, spin_until = self.timers.wait(self.poll_interval)
            if self.dirty and not self._draining:  # draining starts nothing: no reason to spin
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
                    self._draining = True
                else:
                    self._safe(self._handle, message)
                handled += 1
                if handled > pacing.INBOX_BATCH:
                    break
                try:
                    message = self.inbox.get_nowait()
                except queue.Empty:
                    message = None
            self.timers.fire_due(self.guarded, self._safe)
            if not self._draining and not self.writer.behind():
                # While draining, node runs already on workers may finish, but nothing new
                # starts: the engine that takes over replays and starts what became ready.
                self._dispatch()
            mono, next_timer = clock(), self.timers.next_due()
            # The poll and the heartbeat: not right before a timer comes due (engine.core.pacing).
            if not self._draining and pacing.housekeeping_now(mono, next_poll, next_timer):
                next_poll = mono + self.poll_interval
                self._safe(self._claim)
                self._safe(self._poll_signals)
            if pacing.housekeeping_now(mono, next_heartbeat, next_timer):
                next_heartbeat = mono + self.heartbeat_interval
                taken = self._safe(self.persistence.heartbeat, self.engine_id, list(self.executions))
                if taken:
                    self._abandon(taken)
            self._flush()
            if drain_deadline is not None:
                busy = any(a.holds_slot and a.impl is not None and a.id in self._submitted
                           for ex in self.executions.values() for a in ex.active.values())
                if not busy or clock() >= drain_deadline:
                    self._safe(self._release_after_writes)
                    return

    def _abandon(self, execution_ids: list[Any]) -> None:
        """Another engine took these executions over (this one looked dead to it, e.g.
        stalled past `stale_after`): stop driving them at once. Nothing is written for
        them any more; the fence in the store drops what was already on its way."""
        for execution_id in execution_ids:
            ex = self.executions.get(execution_id)
            if ex is not None:
                log.warning("engine: execution %s was taken over by another engine; abandoning it", execution_id)
                self._drop(ex)

    def _drop(self, ex: ExecutionRun) -> None:
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

    # -- one execution's failure is its own ----------------------------------------------------
    def guarded(self, ex: ExecutionRun, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one step of one execution (its start, a node result, a signal, a timer):
        an exception fails that execution with the reason, and the engine goes on."""
        try:
            return fn(*args)
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
        self._drop(ex)
        self.batch.failures[ex.id] = {"message": message}

    def _release_after_writes(self) -> None:
        """Wait until the writer has committed everything, then let other engines take over."""
        self.writer.barrier(30)
        self.persistence.release(self.engine_id, list(self.executions))

    def _safe(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - the coordinator must survive anything
            log.exception("engine: %s failed", getattr(fn, "__name__", fn))
            return None

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, attempt, value, exc = message
            self._submitted.pop(attempt.id, None)
            self.guarded(attempt.ex, attempt.ex.complete, attempt, value, exc)
        elif kind == "log":
            _, attempt, text = message
            self.guarded(attempt.ex, attempt.ex.log, attempt, text)
        elif kind == "remote_done":
            # From another process, by attempt id: the first result of an attempt still
            # with the executor counts; a redelivered body's second result, or one for an
            # attempt of an execution this engine no longer drives, finds nothing.
            _, attempt_id, value, exc = message
            attempt = self._submitted.pop(attempt_id, None)
            if attempt is not None:
                self.guarded(attempt.ex, attempt.ex.complete, attempt, value, exc)
        elif kind == "remote_log":
            attempt = self._submitted.get(message[1])
            if attempt is not None and attempt.active:
                self.guarded(attempt.ex, attempt.ex.log, attempt, message[2])
        elif kind == "claim":
            wait = pacing.claim_wait(self._last_wake_claim, clock())
            if wait > 0 and not self._draining:
                # A claim ran just now: under a burst of run requests, the next one waits a
                # little and takes every run committed meanwhile in one read of the queue.
                # (The flag stays set: requests in between post no more claims.)
                if not self._claim_deferred:
                    self._claim_deferred = True
                    self.add_timer(wait, self._wake_claim)
            else:
                self._wake_claim()
        elif kind == "signal":
            ex = self.executions.get(message[1])
            if ex is not None:
                self.guarded(ex, self._apply_signals, ex, self.persistence.take_signals(ex.id))
        elif kind == "call":
            message[1]()
        elif kind == "committed":
            pass  # only wakes the coordinator: the write-behind bound may allow new work
        elif kind == "lost":
            attempt = message[1]
            attempt.status = "lost"
            attempt.ex.active.pop(attempt.id, None)
        elif kind == "stopped":  # the writer recorded its failure (`_stop_failed`)
            ex = self.executions.get(message[1])
            if ex is not None:
                self._drop(ex)

    def _wake_claim(self) -> None:
        self._claim_deferred = False
        # Cleared before the queue is read: a run committed after this posts a new claim.
        with self._lock:
            self._claim_pending = False
        self._last_wake_claim = clock()
        if not self._draining:
            self._claim(expire=False)

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.inbox.put(("call", fn))

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
        """Hand the tick's batch to the writer thread; the coordinator never waits on the
        database, so a slow commit delays announcements, not scheduling."""
        batch, self.batch = self.batch, Batch()
        submit, self.to_submit = self.to_submit, []
        finished, self._pending_finish = self._pending_finish, []
        self.writer.hand_off(batch, submit, finished)

    def _on_started(self, attempt: Attempt) -> None:
        """The writer committed this node run's start: its body goes to the executor."""
        self._submitted[attempt.id] = attempt
        self.executor.submit(attempt)

    def _on_finished(self, finished: list[Any]) -> None:
        """The writer committed these executions' ends: wake their waiters, send their mail."""
        with self._lock:
            for ex_id in finished:
                self._finished_events.setdefault(ex_id, threading.Event()).set()
            mails = [self._notifications.pop(ex_id) for ex_id in finished if ex_id in self._notifications]
        for mail in mails:
            # Mail can be slow (SMTP): neither the coordinator nor the writer waits on it.
            threading.Thread(target=self._safe, args=(self.notifier, *mail), name="fm-notify",
                             daemon=True).start()

    def _claim(self, expire: bool = True) -> None:
        if expire:
            # The run queue's timeout (SPEC §4.5), before anything is claimed; on the poll
            # only: a wake-up for a new run has nothing to expire.
            self._safe(self.persistence.expire_queued, now())
        claimed = [i for i in self.persistence.claim_executions(self.engine_id, stale_after_s=self.stale_after,
                                                               limit=100) if i not in self.executions]
        if not claimed:
            return
        # From here on each claimed execution is started or failed, whatever happens to
        # another: an execution this engine owns and does not run would stay idle for good
        # (no other engine takes over a run whose owner keeps heart-beating).
        records = self._load_claimed(claimed)
        try:
            signals = self.persistence.take_signals_many(claimed)
        except Exception:  # noqa: BLE001 - unapplied signals are picked up by the next poll
            log.exception("engine: reading the signals of claimed executions failed")
            signals = {}
        from engine.core.signals import start_claimed

        for execution_id in claimed:
            record = records.get(execution_id)
            if not isinstance(record, ExecutionRecord):
                self.batch.failures[execution_id] = {"message": f"the execution could not be loaded: {record}"}
                continue
            try:
                plan = self.plans.get(record.definition, record.definition_text)
            except DefinitionError as exc:
                self.batch.failures[execution_id] = {"message": "invalid definition", "errors": exc.errors}
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. a saved setting of the wrong type
                log.exception("engine: execution %s: its workflow version cannot be planned", execution_id)
                self.batch.failures[execution_id] = {
                    "message": f"invalid definition: {type(exc).__name__}: {reason(exc)}"}
                continue
            try:
                ex = ExecutionRun(self, record, plan)
            except Exception as exc:  # noqa: BLE001 - e.g. stored state of an unexpected shape
                log.exception("engine: execution %s could not be resumed", execution_id)
                self.batch.failures[execution_id] = {
                    "message": f"internal error: {type(exc).__name__}: {reason(exc)}"}
                continue
            self.executions[execution_id] = ex
            # ex.start(), or carry on with a rollback; wait again at an approval.
            self.guarded(ex, start_claimed, ex)
            if not ex.finished:
                self.guarded(ex, self._apply_signals, ex, signals.get(execution_id, []))

    def _load_claimed(self, claimed: list[Any]) -> dict[Any, ExecutionRecord | str]:
        """The records of claimed executions; when loading them together fails (one
        unreadable stored value), each alone, so that only that one is lost. An execution
        that cannot be loaded maps to the reason."""
        try:
            found: dict[Any, ExecutionRecord | str] = dict(self.persistence.load_many(claimed))
        except Exception:  # noqa: BLE001 - find the one that cannot be read
            log.exception("engine: loading %d claimed executions failed; loading each alone", len(claimed))
            found = {}
            for execution_id in claimed:
                try:
                    found.update(self.persistence.load_many([execution_id]))
                except Exception as exc:  # noqa: BLE001
                    found[execution_id] = f"{type(exc).__name__}: {reason(exc)}"
        for execution_id in claimed:
            found.setdefault(execution_id, "it no longer exists")
        return found

    def _apply_signals(self, ex: ExecutionRun, records: list[SignalRecord]) -> None:
        for record in records:
            if record.id in self._applied_signals:
                continue
            self._applied_signals.add(record.id)
            # Applied whatever happens: a signal whose handling fails the execution
            # (`guarded`) is not handled again and again.
            self.batch.signals_applied.append(record.id)
            self._apply_signal(ex, record)

    def _poll_signals(self) -> None:
        for execution_id in self.persistence.executions_with_signals(self.engine_id):
            self._handle(("signal", execution_id))

    def _apply_signal(self, ex: ExecutionRun, record: SignalRecord) -> None:
        from engine.core.signals import apply_signal

        apply_signal(ex, record)

    # -- signal actions that reach beyond one execution ----------------------------------------
    notifier: Callable[[list[str], str, str], None] | None = None

    def on_cancel_signal(self, ex: ExecutionRun, handler: dict[str, Any], record: SignalRecord) -> None:
        reason = record.reason or "cancelled by signal"
        notify = handler.get("notify") or []
        if notify:
            # Sent once the execution has really ended (after its compensations), so the
            # mail can say how the rollback went; persisted so that a takeover still sends it.
            ex.extra_state["notify"] = {"to": [str(a) for a in notify], "by": record.sent_by or "a signal",
                                        "reason": reason}
            ex.save_state()
        if handler.get("rollback"):
            from engine.core.rollback import rollback_and_cancel

            rollback_and_cancel(ex, reason)  # compensations first, then `cancelled`
        else:
            ex.cancel(reason)
