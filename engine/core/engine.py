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

import heapq
import itertools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.core.execution import Attempt, ExecutionRun
from engine.core.graph import DefinitionError
from engine.core.persistence import Batch, ExecutionRecord, Persistence, SignalRecord, now
from engine.core.plan import PlanCache
from engine.executors.base import Executor
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import AwaitSignal, EngineOptions

log = logging.getLogger("engine")

TICK_BUDGET = 2000  # inline node runs per tick before a flush lets the world see progress
# …and at most this long: a 1,000-node chain of inline nodes would otherwise run in one
# tick, and its first event would reach the timeline only after the last node (the
# `stream` benchmark's latency). A 10 ms tick made ~500 events, each waiting for the whole
# tick, then for a commit of all of them: 2 ms keeps a tick's events to ~60.
TICK_TIME_S = 0.002
WRITE_MERGE_EVENTS = 100  # events per group commit before the writer stops merging ticks
# Bounded write-behind: the coordinator starts no new work while more than this many events
# wait for the writer's commit; the writer's next commit wakes it (`committed`). A chain of
# inline nodes makes events faster than one process can store them; unbounded, the backlog
# (and the delay before anything reaches the timeline) grew to 300 ms in a 1,000-node
# chain, and with a bound of 1,000 it was still ~100 ms. Waiting for its own durable log is
# the engine pacing itself, not a client slowing it: live clients are fed after the commit,
# never waited for. Timer-bound work (fan-outs, loops, lattices) never reaches the bound:
# the `fanout`, `loop` and `lattice` benchmarks measured the same with 100 and 1,000.
WRITE_BEHIND_EVENTS = 100

# Waking from a kernel wait takes 0.1–0.25 ms on the virtual machines we measured (a bare
# `time.sleep(0.01)` lasts 10.2 ms): every 10 ms delay of a fan-out wave or a lattice layer
# ended that much late, 2 % of its length. So when the next timer is the reason to wake, the
# coordinator wakes this much earlier and yields the rest of the way (other threads keep
# the GIL meanwhile)…
TIMER_SPIN_S = 0.0003
# …for timers due at least this long after the last yield ended, so that thousands of
# scattered timers (a big loop whose items end at different times) cannot turn it into a
# busy loop: ≤ 6 % of a core.
TIMER_SPIN_EVERY_S = 0.005

# Claims on a run request's wake-up happen at most this often: a claim costs ~0.5 ms
# whatever it finds (the queue read, the compare-and-set, the load), so under a burst of
# requests (`bench runs`: one every ~5 ms) two or three runs share one instead of each
# paying for its own. A lone run is claimed at once.
CLAIM_SPACING_S = 0.012


# Housekeeping (the poll for new runs and signals, the heartbeat) waits while a timer is due
# within this long, by at most HOUSEKEEPING_DEFER_S: never long enough to look dead.
HOUSEKEEPING_ROOM_S = 0.004
HOUSEKEEPING_DEFER_S = 0.05

# A write that fails for a transient reason (a locked database) is tried this many times,
# this far apart; a write the database refuses (e.g. a value that is not JSON) is not.
WRITE_RETRIES = 20
WRITE_RETRY_S = 0.2


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def precise_timers() -> None:
    """Linux lets a thread's timed waits end up to 50 µs late by default ("timer slack");
    ask for 1 µs on the coordinator thread. Elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK, in nanoseconds
    except (OSError, AttributeError):
        pass


class Timer:
    __slots__ = ("due", "callback", "cancelled", "ex")

    def __init__(self, due: float, callback: Callable[[], None], ex: ExecutionRun | None = None):
        self.due = due
        self.callback = callback
        self.cancelled = False
        self.ex = ex


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
        self.timers: list[tuple[float, int, Timer]] = []
        self._timer_ids = itertools.count()
        self.executions: dict[Any, ExecutionRun] = {}
        self.batch = Batch()
        self.to_submit: list[Attempt] = []
        self.dirty: dict[ExecutionRun, None] = {}
        self.plans = PlanCache()
        # Where node bodies that do not run inline run (engine.executors).
        self.executor: Executor = executor or ThreadExecutor(max_workers, initializer=worker_initializer)
        self.announce_queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self.write_queue: queue.SimpleQueue[
            tuple[Batch, list[Attempt], list[Any], threading.Event | None] | None
        ] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._finished_events: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()
        self._notifications: dict[Any, tuple[list[str], str, str]] = {}
        self._claim_pending = False
        self._claim_deferred = False
        self._last_wake_claim = 0.0
        self.tick_deadline = 0.0
        self.tick_mono = time.monotonic()
        self.tick_wall = now()  # sent after the final commit
        self._thread: threading.Thread | None = None
        self._announcer: threading.Thread | None = None
        self._draining = False
        self._coordinator_ident: int | None = None
        self.started = threading.Event()
        self._applied_signals: set[Any] = set()
        self._submitted: dict[str, Attempt] = {}  # node runs with the executor right now
        # Write-behind: events handed to the writer (only the coordinator adds to this count)
        # and events it has committed (only the writer adds to that one).
        self._events_flushed = 0
        self._events_committed = 0
        self._awaiting_commit = False  # the coordinator waits for the writer (bounded write-behind)

    # -- public API (any thread) ---------------------------------------------------------
    def start(self) -> Engine:
        self.executor.start(self)
        self._thread = threading.Thread(target=self._thread_main(self._run), name="fm-coordinator", daemon=True)
        self._announcer = threading.Thread(target=self._thread_main(self._announce_loop), name="fm-announcer",
                                           daemon=True)
        self._announcer.start()
        self._writer = threading.Thread(target=self._thread_main(self._write_loop), name="fm-writer", daemon=True)
        self._writer.start()
        self._thread.start()
        self.started.wait(10)
        return self

    def _thread_main(self, body: Callable[[], None]) -> Callable[[], None]:
        """`body`, then the store's `thread_done` (if it has one) on the same thread: a
        database connection is per thread, and one left open by a stopped engine's thread
        would stay taken (a pool slot, a server connection) until the process ends."""

        def main() -> None:
            try:
                body()
            finally:
                done = getattr(self.persistence, "thread_done", None)
                if done is not None:
                    done()

        return main

    def stop(self, grace: float = 5.0) -> None:
        """Drain: stop claiming and starting, let running node runs finish within `grace`,
        then release the executions so another engine can pick them up at once."""
        if self._thread is None:
            return
        self.inbox.put(("drain", time.monotonic() + grace))
        self._thread.join(grace + 10)
        self.write_queue.put(None)
        if self._writer is not None:
            self._writer.join(30)
        self.executor.shutdown()
        self.announce_queue.put(None)
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
        """Call `callback` after `delay_s` seconds; a timer of an execution (`ex`) that
        raises fails that execution only."""
        timer = Timer(time.monotonic() + delay_s, callback, ex)
        heapq.heappush(self.timers, (timer.due, next(self._timer_ids), timer))
        return timer

    @staticmethod
    def clock() -> float:
        """The monotonic clock timers run on (one clock for all of the core: tests warp it
        by replacing this module's `time`)."""
        return time.monotonic()

    def start_stamp(self, queued_at: datetime) -> tuple[float, datetime]:
        """(monotonic, wall) start time of a node run: the current tick's when it is fresh
        (under 2 ms) and the node run was queued before it; else a new tick, which the
        node runs started right after share (e.g. a layer queued by an inline join)."""
        mono = time.monotonic()
        if mono - self.tick_mono >= 0.002 or queued_at > self.tick_wall:
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

    def start_container(self, attempt: Attempt) -> None:
        from engine.core.loops import begin_loop

        begin_loop(self, attempt)

    def await_signal(self, attempt: Attempt, request: AwaitSignal) -> None:
        """An approval node waits: the execution pauses until a resume signal."""
        from engine.core.signals import await_approval

        await_approval(attempt, request)

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
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        drain_deadline: float | None = None
        precise_timers()
        spun_at = 0.0
        self.started.set()
        while True:
            timeout = self.poll_interval
            spin_until = 0.0
            if self.timers:
                mono = time.monotonic()
                due = self.timers[0][0]
                if due - mono < timeout:
                    timeout = max(0.0, due - mono)
                    if timeout > TIMER_SPIN_S and due - spun_at >= TIMER_SPIN_EVERY_S:
                        spin_until, timeout = due, timeout - TIMER_SPIN_S
            if self.dirty and not self._draining:  # draining starts nothing: no reason to spin
                # Work is waiting: go straight on, or (writer behind) when the writer's next
                # commit wakes us (flag first, then look: a commit in between still wakes us).
                self._awaiting_commit = True
                # (…but never past a timer's due time.)
                timeout, spin_until = (min(timeout, 0.01) if self._write_behind() else 0.0), 0.0
                self._awaiting_commit = timeout > 0
            try:
                message: tuple[Any, ...] | None = self.inbox.get(timeout=timeout)
            except queue.Empty:
                message = None
                while time.monotonic() < spin_until:
                    time.sleep(0)  # lets the writer and workers run while the timer comes due
                if spin_until:
                    spun_at = time.monotonic()
            self._awaiting_commit = False
            handled = 0
            while message is not None:
                if message[0] == "drain":
                    drain_deadline = message[1]
                    self._draining = True
                else:
                    self._safe(self._handle, message)
                handled += 1
                if handled > 5000:
                    break
                try:
                    message = self.inbox.get_nowait()
                except queue.Empty:
                    message = None
            self._fire_timers()
            if not self._draining and not self._write_behind():
                # While draining, node runs already on workers may finish, but nothing new
                # starts: the engine that takes over replays and starts what became ready.
                self._dispatch()
            mono = time.monotonic()
            # The poll and the heartbeat are a few queries (1–3 ms): not right before a
            # timer comes due (it would end that late), unless they are already overdue.
            timer_close = bool(self.timers) and self.timers[0][0] - mono < HOUSEKEEPING_ROOM_S
            if not self._draining and mono >= next_poll and (not timer_close or mono >= next_poll + HOUSEKEEPING_DEFER_S):
                next_poll = mono + self.poll_interval
                self._safe(self._claim)
                self._safe(self._poll_signals)
            if mono >= next_heartbeat and (not timer_close or mono >= next_heartbeat + HOUSEKEEPING_DEFER_S):
                next_heartbeat = mono + self.heartbeat_interval
                taken = self._safe(self.persistence.heartbeat, self.engine_id, list(self.executions))
                if taken:
                    self._abandon(taken)
            self._flush()
            if drain_deadline is not None:
                busy = any(a.holds_slot and a.impl is not None and a.id in self._submitted
                           for ex in self.executions.values() for a in ex.active.values())
                if not busy or time.monotonic() >= drain_deadline:
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
            self.fail_execution(ex, f"internal error: {type(exc).__name__}: {_reason(exc)}")
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
        written = threading.Event()
        self.write_queue.put((Batch(), [], [], written))
        written.wait(30)
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
            wait = self._last_wake_claim + CLAIM_SPACING_S - time.monotonic()
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
        self._last_wake_claim = time.monotonic()
        if not self._draining:
            self._claim(expire=False)

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.inbox.put(("call", fn))

    def _fire_timers(self) -> None:
        mono = time.monotonic()
        while self.timers and self.timers[0][0] <= mono:
            _, _, timer = heapq.heappop(self.timers)
            if not timer.cancelled:
                timer.cancelled = True
                if timer.ex is not None:
                    self.guarded(timer.ex, timer.callback)
                else:
                    self._safe(timer.callback)

    def _dispatch(self) -> None:
        # Node runs started in one pass share its start time. A delay's timer counts from
        # it, so the delays of a fan-out end together and are finished in one wake-up
        # instead of one wake-up each (the timeline shows them starting together, as they did).
        self.tick_mono = time.monotonic()
        self.tick_wall = now()
        self.tick_deadline = self.tick_mono + TICK_TIME_S
        budget = TICK_BUDGET
        while self.dirty and budget > 0:
            if budget < TICK_BUDGET and time.monotonic() > self.tick_deadline:
                return  # still dirty: the loop flushes, then comes straight back
            ex = next(iter(self.dirty))
            del self.dirty[ex]
            if ex.finished:
                continue
            budget -= self.guarded(ex, ex.dispatch, budget) or 0
            if not ex.finished and ((ex.ready and ex.in_flight < ex.plan.max_concurrency and ex.status == "running")
                                    or ex.held):
                self.dirty[ex] = None

    def _write_behind(self) -> bool:
        """Do more than WRITE_BEHIND_EVENTS events wait for the writer?"""
        return self._events_flushed - self._events_committed > WRITE_BEHIND_EVENTS

    def _flush(self) -> None:
        """Hand the tick's batch to the writer thread; the coordinator never waits on the
        database, so a slow commit delays announcements, not scheduling."""
        batch, self.batch = self.batch, Batch()
        submit, self.to_submit = self.to_submit, []
        finished, self._pending_finish = self._pending_finish, []
        if batch or batch.failures or submit or finished:
            self._events_flushed += len(batch.events) - batch.unpaced_events
            self.write_queue.put((batch, submit, finished, None))

    def _write_loop(self) -> None:
        """Persist batches in order (several at once when they queue up: group commit),
        then announce them, then hand claimed node runs to the worker pool."""
        while True:
            item = self.write_queue.get()
            if item is None:
                return
            batch, submit, finished, barrier = item
            barriers = [barrier] if barrier is not None else []
            stop = False
            # Merge whatever else is waiting into one transaction (group commit), up to a
            # few hundred events: nothing is announced before its transaction commits, so
            # one huge merge (a fast inline chain queues thousands of events) would hold back
            # the first of them for the whole commit; smaller ones stream out as they commit.
            while len(batch.events) < WRITE_MERGE_EVENTS:
                try:
                    more = self.write_queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.merge(more[0])
                submit += more[1]
                finished += more[2]
                if more[3] is not None:
                    barriers.append(more[3])
            events = len(batch.events) - batch.unpaced_events  # counted before the fence may drop some
            lost: set[str] = set()
            if batch:
                lost, batch = self._persist(batch)
                if self.persistence.has_listeners(batch):
                    self.announce_queue.put(batch)
            if batch.failures:
                finished = finished + self._stop_failed(batch.failures)
            self._events_committed += events
            if self._awaiting_commit:
                self._awaiting_commit = False
                self.inbox.put(("committed",))  # the coordinator waits for this commit to go on
            for attempt in submit:
                if attempt.id in lost:
                    # Another engine claimed this node run (it is theirs to run), or its
                    # execution was stopped because its state could not be written.
                    self.inbox.put(("lost", attempt))
                elif attempt.status == "running":
                    self._submitted[attempt.id] = attempt
                    self.executor.submit(attempt)
            if finished:
                with self._lock:
                    for ex_id in finished:
                        self._finished_events.setdefault(ex_id, threading.Event()).set()
                    mails = [self._notifications.pop(ex_id) for ex_id in finished if ex_id in self._notifications]
                for mail in mails:
                    # Mail can be slow (SMTP): neither the coordinator nor the writer waits on it.
                    threading.Thread(target=self._safe, args=(self.notifier, *mail), name="fm-notify",
                                     daemon=True).start()
            for written in barriers:
                written.set()
            if stop:
                return

    # -- the writer's isolation: one execution's unwritable state fails that execution only --
    def _flush_retrying(self, batch: Batch) -> tuple[set[str], Exception | None]:
        """Write `batch`; try again only when the error is transient (a locked database),
        never when the database refuses the data: that would stall every execution's writes
        and then fail the same way."""
        transient = getattr(self.persistence, "is_transient", None)
        for attempt in range(WRITE_RETRIES):
            try:
                return self.persistence.flush(batch, self.engine_id), None
            except Exception as exc:  # noqa: BLE001 - sorted out below and by the caller
                if attempt + 1 == WRITE_RETRIES or transient is None or not transient(exc):
                    return set(), exc
                log.warning("engine: flush failed (%s); retrying", exc)
                time.sleep(WRITE_RETRY_S)
        raise AssertionError("unreachable")

    def _persist(self, batch: Batch) -> tuple[set[str], Batch]:
        """Write a batch (a group commit of many executions' ticks). When the database
        refuses it, write each execution's part on its own: an execution whose part is
        refused is stopped as failed with the reason (`_stop_failed`), and everyone else's
        writes land. Returns the claims lost and what was written (to announce)."""
        lost, error = self._flush_retrying(batch)
        if error is None:
            return lost, batch
        parts, rest = batch.by_execution()
        log.warning("engine: a write of %d execution(s) failed (%s: %s); writing each on its own",
                    len(parts), type(error).__name__, error)
        written = Batch(failures=dict(batch.failures))
        for execution_id, part in parts.items():
            part_lost, part_error = self._flush_retrying(part) if len(parts) > 1 or rest else (set(), error)
            if part_error is None:
                lost |= part_lost
                written.merge(part)
                continue
            log.error("engine: execution %s: its state could not be saved (%s: %s); stopping it",
                      execution_id, type(part_error).__name__, part_error)
            lost |= set(part.claims)  # none of its node runs may start: they were not recorded
            written.failures.setdefault(execution_id, {
                "message": f"the execution's state could not be saved: {_reason(part_error)}; it was stopped",
                "kind": "unstorable",
            })
        if rest:
            rest_lost, rest_error = self._flush_retrying(rest)
            if rest_error is not None:
                log.error("engine: could not mark signals applied: %s", rest_error)
            written.merge(rest)
        written.unpaced_events = batch.unpaced_events
        return lost, written

    def _stop_failed(self, failures: dict[Any, dict[str, Any]]) -> list[Any]:
        """Stop these executions as failed, each on its own (writer thread); tell the
        coordinator to drop them. Returns the ids now finished."""
        stopped = []
        for execution_id, error in failures.items():
            announcement = None
            for attempt in range(WRITE_RETRIES):
                try:
                    announcement = self.persistence.fail_execution(execution_id, self.engine_id, error)
                    break
                except Exception as exc:  # noqa: BLE001 - a locked database: try again, else give up
                    transient = getattr(self.persistence, "is_transient", None)
                    if attempt + 1 == WRITE_RETRIES or transient is None or not transient(exc):
                        log.exception("engine: could not record the failure of execution %s", execution_id)
                        break
                    time.sleep(WRITE_RETRY_S)
            self.inbox.put(("stopped", execution_id))
            stopped.append(execution_id)
            if announcement is not None and self.persistence.has_listeners(announcement):
                self.announce_queue.put(announcement)
        return stopped

    def _work(self, attempt: Attempt) -> None:
        # Node types never touch the database (results go back to the coordinator), so
        # pooled threads need no connection handling.
        try:
            assert attempt.impl is not None and attempt.ctx is not None
            value = attempt.impl.run(attempt.ctx)
        except BaseException as exc:  # noqa: BLE001
            self.inbox.put(("done", attempt, None, exc))
        else:
            self.inbox.put(("done", attempt, value, None))

    def _announce_loop(self) -> None:
        while True:
            batch = self.announce_queue.get()
            if batch is None:
                return
            try:
                self.persistence.announce(batch)
            except Exception:  # noqa: BLE001 - a broken channel layer must not stop the engine
                log.exception("engine: announce failed")

    def _claim(self, expire: bool = True) -> None:
        expire_queued = getattr(self.persistence, "expire_queued", None)
        if expire and expire_queued is not None:
            # The run queue's timeout (SPEC §4.5), before anything is claimed; on the poll
            # only: a wake-up for a new run has nothing to expire.
            self._safe(expire_queued, now())
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
                    "message": f"invalid definition: {type(exc).__name__}: {_reason(exc)}"}
                continue
            try:
                ex = ExecutionRun(self, record, plan)
            except Exception as exc:  # noqa: BLE001 - e.g. stored state of an unexpected shape
                log.exception("engine: execution %s could not be resumed", execution_id)
                self.batch.failures[execution_id] = {
                    "message": f"internal error: {type(exc).__name__}: {_reason(exc)}"}
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
                    found[execution_id] = f"{type(exc).__name__}: {_reason(exc)}"
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
        poll = getattr(self.persistence, "executions_with_signals", None)
        if poll is None:
            return
        for execution_id in poll(self.engine_id):
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

    def run_handler(self, ex: ExecutionRun, node_id: str, record: SignalRecord) -> None:
        ex.run_detached(node_id, record.data if record.data is not None else {})
