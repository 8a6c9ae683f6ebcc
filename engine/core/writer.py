"""Write-behind: the writer thread that makes the coordinator's ticks durable, and the
announcer thread that tells live clients about them afterwards.

The coordinator never waits on the database: it hands each tick's batch to the writer
(`hand_off`) and goes on, so a slow commit delays announcements, not scheduling. The writer
then, in order:
1. merges whatever ticks queued up meanwhile into one transaction (group commit, up to
   WRITE_MERGE_EVENTS events: engine.core.pacing);
2. writes it, retrying transient errors, and, when the database refuses it, writes each
   execution's part alone, so that one execution's unstorable state fails only that one;
3. hands the written batch to the announcer (persist, then announce);
4. tells the coordinator which node runs' starts are now committed (`on_started`: their
   bodies go to the executor, or were given to it already and may now be recorded), and
   reports executions that have finished (`on_finished`).

The coordinator paces itself by the writer (`behind`): it starts no new work while more
than WRITE_BEHIND_EVENTS events wait for their commit, and the commit that frees it wakes it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engine.core import pacing
from engine.core.persistence import Batch, Persistence

if TYPE_CHECKING:
    from engine.core.execution import Attempt

log = logging.getLogger("engine")

T = TypeVar("T")
Post = Callable[[tuple[Any, ...]], None]
# A tick handed to the writer: its batch, the node runs to submit once it is committed, the
# executions that finished in it, and an event to set once everything before is written.
Handed = tuple[Batch, list["Attempt"], list[Any], threading.Event | None]


def reason(exc: BaseException) -> str:
    """An exception as one short line, for an execution's error."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


class Announcer:
    """Announces written batches on its own thread: a slow or broken channel layer costs
    live clients their updates, never the engine its progress."""

    def __init__(self, persistence: Persistence) -> None:
        self.persistence = persistence
        self.queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()

    def put(self, batch: Batch) -> None:
        if self.persistence.has_listeners(batch):
            self.queue.put(batch)

    def stop(self) -> None:
        self.queue.put(None)

    def run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            try:
                self.persistence.announce(batch)
            except Exception:  # noqa: BLE001 - a broken channel layer must not stop the engine
                log.exception("engine: announce failed")


class Writer:
    def __init__(
        self,
        persistence: Persistence,
        engine_id: str,
        announcer: Announcer,
        *,
        post: Post,
        on_started: Callable[[Attempt], None],
        on_finished: Callable[[list[Any]], None],
    ) -> None:
        """`post` puts a message in the coordinator's inbox; `on_started` gets each node
        run whose start (claim) is committed; `on_finished` gets the ids of executions
        whose end is committed."""
        self.persistence = persistence
        self.engine_id = engine_id
        self.announcer = announcer
        self.post = post
        self.on_started = on_started
        self.on_finished = on_finished
        self.queue: queue.SimpleQueue[Handed | None] = queue.SimpleQueue()
        # Events handed over (only the coordinator adds to this count) and events committed
        # (only the writer adds to that one).
        self._events_handed = 0
        self._events_committed = 0
        self._awaiting_commit = False  # the coordinator waits for the next commit

    # -- the coordinator's side ----------------------------------------------------------------
    def hand_off(self, batch: Batch, submit: list[Attempt], finished: list[Any]) -> None:
        if batch or batch.failures or submit or finished:
            self._events_handed += len(batch.events) - batch.unpaced_events
            self.queue.put((batch, submit, finished, None))

    def behind(self) -> bool:
        """Do more than WRITE_BEHIND_EVENTS events wait for their commit?"""
        return pacing.behind(self._events_handed, self._events_committed)

    def wake_on_commit(self, wanted: bool) -> None:
        """Whether the next commit should wake the coordinator (with a "committed" message).
        Set before looking at `behind`: a commit in between still wakes it."""
        self._awaiting_commit = wanted

    def barrier(self, timeout: float) -> None:
        """Wait until everything handed over so far is written."""
        written = threading.Event()
        self.queue.put((Batch(), [], [], written))
        written.wait(timeout)

    def stop(self) -> None:
        self.queue.put(None)

    # -- the writer thread -----------------------------------------------------------------------
    def run(self) -> None:
        """Persist batches in order (several at once when they queue up: group commit),
        then announce them, then hand claimed node runs to the executor."""
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch, submit, finished, barrier = item
            barriers = [barrier] if barrier is not None else []
            stop = False
            while len(batch.events) < pacing.WRITE_MERGE_EVENTS:
                try:
                    more = self.queue.get_nowait()
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
            self._commit(batch, submit, finished)
            for written in barriers:
                written.set()
            if stop:
                return

    def _commit(self, batch: Batch, submit: list[Attempt], finished: list[Any]) -> None:
        events = len(batch.events) - batch.unpaced_events  # counted before the fence may drop some
        lost: set[str] = set()
        if batch:
            lost, batch = self._persist(batch)
            self.announcer.put(batch)
        if batch.failures:
            finished = finished + self._stop_failed(batch.failures)
        self._events_committed += events
        if self._awaiting_commit:
            self._awaiting_commit = False
            self.post(("committed",))  # the coordinator waits for this commit to go on
        for attempt in submit:
            if attempt.id in lost:
                # Another engine claimed this node run (it is theirs to run), or its
                # execution was stopped because its state could not be written.
                self.post(("lost", attempt))
            else:
                self.on_started(attempt)
        if finished:
            self.on_finished(finished)

    # -- one execution's unwritable state fails that execution only ------------------------------
    def _retrying(self, what: str, write: Callable[..., T], *args: Any) -> tuple[T | None, Exception | None]:
        """`write(*args)`, tried again only when the error is transient (a locked database),
        never when the database refuses the data: that would stall every execution's writes
        and then fail the same way."""
        for attempt in range(pacing.WRITE_RETRIES):
            try:
                return write(*args), None
            except Exception as exc:  # noqa: BLE001 - sorted out below and by the caller
                if attempt + 1 == pacing.WRITE_RETRIES or not self.persistence.is_transient(exc):
                    return None, exc
                log.warning("engine: %s failed (%s); retrying", what, exc)
                time.sleep(pacing.WRITE_RETRY_S)
        raise AssertionError("unreachable")

    def _flush(self, batch: Batch) -> tuple[set[str], Exception | None]:
        lost, error = self._retrying("flush", self.persistence.flush, batch, self.engine_id)
        return lost or set(), error

    def _persist(self, batch: Batch) -> tuple[set[str], Batch]:
        """Write a batch (a group commit of many executions' ticks). When the database
        refuses it, write each execution's part on its own: an execution whose part is
        refused is stopped as failed with the reason (`_stop_failed`), and everyone else's
        writes land. Returns the claims lost and what was written (to announce)."""
        lost, error = self._flush(batch)
        if error is None:
            return lost, batch
        parts, rest = batch.by_execution()
        log.warning("engine: a write of %d execution(s) failed (%s: %s); writing each on its own",
                    len(parts), type(error).__name__, error)
        written = Batch(failures=dict(batch.failures))
        for execution_id, part in parts.items():
            part_lost, part_error = self._flush(part) if len(parts) > 1 or rest else (set(), error)
            if part_error is None:
                lost |= part_lost
                written.merge(part)
                continue
            log.error("engine: execution %s: its state could not be saved (%s: %s); stopping it",
                      execution_id, type(part_error).__name__, part_error)
            lost |= set(part.claims)  # none of its node runs may start: they were not recorded
            written.failures.setdefault(execution_id, {
                "message": f"the execution's state could not be saved: {reason(part_error)}; it was stopped",
                "kind": "unstorable",
            })
        if rest:
            _, rest_error = self._flush(rest)
            if rest_error is not None:
                log.error("engine: could not mark signals applied: %s", rest_error)
            written.merge(rest)
        written.unpaced_events = batch.unpaced_events
        return lost, written

    def _stop_failed(self, failures: dict[Any, dict[str, Any]]) -> list[Any]:
        """Stop these executions as failed, each on its own; tell the coordinator to drop
        them. Returns the ids now finished."""
        stopped = []
        for execution_id, error in failures.items():
            announcement, exc = self._retrying(
                "recording a failure", self.persistence.fail_execution, execution_id, self.engine_id, error)
            if exc is not None:
                log.error("engine: could not record the failure of execution %s", execution_id, exc_info=exc)
            self.post(("stopped", execution_id))
            stopped.append(execution_id)
            if announcement is not None:
                self.announcer.put(announcement)
        return stopped
