"""The engine process: the parts, wired together, behind one object.

- engine.core.coordinator — the one thread on which executions change state (the loop);
- engine.core.timers — `delay` waits, back-offs and timeouts, as heap entries, not threads;
- engine.core.writer — write-behind: group commit, retry, then the announcer thread;
- engine.core.claims — claiming executions, their signals, the heartbeat, the release;
- engine.executors — where node bodies that do not run inline run (a thread pool, Celery);
- engine.core.pacing — the rules that trade a little latency for batching, and their bounds.

`Engine` is what the rest of the code holds: the web process and the tests start, stop,
wake and wait on it (any thread); executors report to it (`engine.executors.base.Reports`);
executions (`ExecutionRun.engine`) reach the coordinator's services through it.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.core.claims import Claims
from engine.core.coordinator import Coordinator
from engine.core.execution import Attempt, ExecutionRun
from engine.core.persistence import Batch, ExecutionRecord, Persistence
from engine.core.plan import VersionPlan
from engine.core.timers import Timer, Timers, clock
from engine.core.writer import Announcer, Writer
from engine.executors.base import Executor
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import EngineOptions


@dataclass(frozen=True)
class CancelNotice:
    """What a cancel handler with `notify` asked to be told once the execution has really
    ended (after its compensations). The core gives the facts; the words and the way they
    are sent are the notifier's (engine.notifications in the web process)."""

    execution_id: Any
    trace_id: str
    status: str
    to: list[str]
    by: str
    reason: str
    compensations: list[dict[str, Any]]


class Engine:
    # Sends a CancelNotice (on a thread of its own: mail can be slow); None sends nothing.
    notifier: Callable[[CancelNotice], None] | None = None

    def __init__(
        self,
        persistence: Persistence,
        *,
        max_workers: int = 32,
        max_workers_per_user: int | None = None,
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
        self.executor: Executor = executor or ThreadExecutor(max_workers, initializer=worker_initializer,
                                                             per_user=max_workers_per_user)
        self.timers = Timers()
        self.coordinator = Coordinator(self.timers, self.executor, poll_interval=poll_interval,
                                       heartbeat_interval=heartbeat_interval)
        self.announcer = Announcer(persistence)
        self.writer = Writer(persistence, self.engine_id, self.announcer, post=self.coordinator.post,
                             on_started=self.coordinator.on_started, on_finished=self._finished)
        self.claims = Claims(self.coordinator, persistence, self.engine_id, stale_after=stale_after,
                             resume=self._resume)
        self.coordinator.writer, self.coordinator.claims = self.writer, self.claims
        self.inbox = self.coordinator.inbox
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._finished_events: dict[Any, threading.Event] = {}
        self._notices: dict[Any, CancelNotice] = {}

    # -- public API (any thread) ---------------------------------------------------------
    def start(self) -> Engine:
        self.executor.start(self)
        self._threads = [threading.Thread(target=self._thread_main(body), name=name, daemon=True) for name, body in (
            ("fm-announcer", self.announcer.run), ("fm-writer", self.writer.run), ("fm-coordinator", self.coordinator.run))]
        for thread in self._threads:
            thread.start()
        self.coordinator.started.wait(10)
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
        if not self._threads:
            return
        announcer, writer, coordinator = self._threads
        self.coordinator.post(("drain", clock() + grace))
        coordinator.join(grace + 10)
        self.writer.stop()
        writer.join(30)
        self.executor.shutdown()
        self.announcer.stop()
        announcer.join(5)
        self._threads = []

    @property
    def poll_interval(self) -> float:
        return self.coordinator.poll_interval

    @poll_interval.setter
    def poll_interval(self, seconds: float) -> None:
        self.coordinator.poll_interval = seconds

    def submit(self, execution_id: Any) -> None:
        """A new execution was queued: claim it without waiting for the next poll."""
        self.claims.request()

    def signal(self, execution_id: Any) -> None:
        self.coordinator.post(("signal", execution_id))

    def wait(self, execution_id: Any, timeout: float = 30.0) -> bool:
        """Wait until the end of this execution is committed."""
        with self._lock:
            event = self._finished_events.setdefault(execution_id, threading.Event())
        return event.wait(timeout)

    def _finished(self, finished: list[Any]) -> None:
        """The writer committed these executions' ends: wake their waiters, send notices."""
        with self._lock:
            for ex_id in finished:
                self._finished_events.setdefault(ex_id, threading.Event()).set()
            notices = [self._notices.pop(ex_id) for ex_id in finished if ex_id in self._notices]
        for notice in notices:
            # Mail can be slow (SMTP): neither the coordinator nor the writer waits on it.
            threading.Thread(target=self.coordinator.safe, args=(self.notifier, notice), name="fm-notify",
                             daemon=True).start()

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

    # -- what executions use (coordinator thread; ExecutionRun.engine) ------------------------------
    clock = staticmethod(clock)  # the core's one monotonic clock (engine.core.timers)

    def _resume(self, record: ExecutionRecord, plan: VersionPlan) -> ExecutionRun:
        return ExecutionRun(self, record, plan)

    @property
    def batch(self) -> Batch:
        """The writes of the tick being built (the coordinator swaps it at every flush)."""
        return self.coordinator.batch

    @batch.setter
    def batch(self, batch: Batch) -> None:  # settable, as engine.core.records.BatchHolder declares
        self.coordinator.batch = batch

    @property
    def tick_deadline(self) -> float:
        return self.coordinator.tick_deadline

    def add_timer(self, delay_s: float, callback: Callable[[], None], ex: ExecutionRun | None = None) -> Timer:
        """Call `callback` after `delay_s` seconds; a timer of an execution (`ex`) that
        raises fails that execution only."""
        return self.timers.add(delay_s, callback, ex)

    def mark_dirty(self, ex: ExecutionRun) -> None:
        """`ex` may have node runs to start: the coordinator's next dispatch looks at it."""
        self.coordinator.dirty[ex] = None

    def submit_work(self, attempt: Attempt) -> None:
        """Hand this node run's body to the executor once its start is committed."""
        self.coordinator.to_submit.append(attempt)

    def start_stamp(self, queued_at: datetime) -> tuple[float, datetime]:
        return self.coordinator.start_stamp(queued_at)

    def on_worker(self, attempt_id: str) -> bool:
        """Is this node run's body with the executor (a worker thread or process) right now?"""
        return attempt_id in self.coordinator.submitted

    def post_log(self, attempt: Attempt, message: str) -> None:
        self.coordinator.post_log(attempt, message)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Call `fn` on the coordinator thread, after the messages already waiting."""
        self.coordinator.post(("call", fn))

    def execution_finished(self, ex: ExecutionRun) -> None:
        self.coordinator.execution_finished(ex)
        notify = ex.extra_state.get("notify")
        if notify and self.notifier is not None:
            notice = CancelNotice(
                execution_id=ex.id, trace_id=ex.trace_id, status=ex.final_status or "finished",
                to=[str(a) for a in notify.get("to") or []], by=str(notify.get("by")),
                reason=str(notify.get("reason")), compensations=list(ex.rollback_report))
            with self._lock:  # sent once the final status is committed (`_finished`)
                self._notices[ex.id] = notice
