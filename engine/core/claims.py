"""Which executions this engine drives: claiming them, keeping them, letting them go.

- Claiming: queued executions (and those of engines that stopped heart-beating) are taken
  with a compare-and-set in the store, on the coordinator's poll and when a run request
  wakes it (`request`, spaced under a burst: engine.core.pacing), then loaded, planned and
  started, each on its own: one that cannot be loaded or planned fails alone.
- Signals: those waiting for an execution are applied once each, on a claim, on a wake-up
  for that execution (`on_signal`) and on the poll.
- The heartbeat keeps this engine's claims; an execution another engine took over (this
  one looked dead to it) is abandoned at once. On a drain, the claims are released after
  the writer has committed everything.

All of it runs on the coordinator thread, except `request`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.core import pacing
from engine.core.graph import DefinitionError
from engine.core.persistence import ExecutionRecord, Persistence, SignalRecord, now
from engine.core.plan import PlanCache, VersionPlan
from engine.core.signals import apply_signal, start_claimed
from engine.core.timers import clock
from engine.core.writer import reason

if TYPE_CHECKING:
    from engine.core.coordinator import Coordinator
    from engine.core.execution import ExecutionRun

log = logging.getLogger("engine")

CLAIM_LIMIT = 100  # executions claimed by one read of the queue


class Claims:
    def __init__(
        self,
        coordinator: Coordinator,
        persistence: Persistence,
        engine_id: str,
        *,
        stale_after: float,
        resume: Callable[[ExecutionRecord, VersionPlan], ExecutionRun],
    ) -> None:
        """`resume` builds the run of a claimed execution from its record and plan."""
        self.coordinator = coordinator
        self.persistence = persistence
        self.engine_id = engine_id
        self.stale_after = stale_after
        self.resume = resume
        self.plans = PlanCache()
        self._lock = threading.Lock()
        self._pending = False  # a claim request waits in the inbox
        self._deferred = False  # …and a timer, for claim spacing
        self._last_claim = 0.0
        self._applied_signals: set[Any] = set()

    # -- claiming ----------------------------------------------------------------------------
    def request(self) -> None:
        """A new execution was queued (any thread): claim it without waiting for the next
        poll. At most one request waits in the inbox: under a burst of run requests, one
        claim picks up every run committed before it starts (each claim reads the queue)."""
        with self._lock:
            if self._pending:
                return
            self._pending = True
        self.coordinator.post(("claim",))

    def on_request(self) -> None:
        wait = pacing.claim_wait(self._last_claim, clock())
        if wait > 0 and not self.coordinator.draining:
            # A claim ran just now: under a burst of run requests, the next one waits a
            # little and takes every run committed meanwhile in one read of the queue.
            # (The flag stays set: requests in between post no more claims.)
            if not self._deferred:
                self._deferred = True
                self.coordinator.timers.add(wait, self._wake)
        else:
            self._wake()

    def _wake(self) -> None:
        self._deferred = False
        # Cleared before the queue is read: a run committed after this posts a new claim.
        with self._lock:
            self._pending = False
        self._last_claim = clock()
        if not self.coordinator.draining:
            self.claim(expire=False)

    def poll(self) -> None:
        """The coordinator's regular look for work: queued runs, then waiting signals."""
        self.coordinator.safe(self.claim)
        self.coordinator.safe(self._poll_signals)

    def claim(self, expire: bool = True) -> None:
        co = self.coordinator
        if expire:
            # The run queue's timeout (SPEC §4.5), before anything is claimed; on the poll
            # only: a wake-up for a new run has nothing to expire.
            co.safe(self.persistence.expire_queued, now())
        claimed = [i for i in self.persistence.claim_executions(self.engine_id, stale_after_s=self.stale_after,
                                                               limit=CLAIM_LIMIT) if i not in co.executions]
        if not claimed:
            return
        # From here on each claimed execution is started or failed, whatever happens to
        # another: an execution this engine owns and does not run would stay idle for good
        # (no other engine takes over a run whose owner keeps heart-beating).
        records = self._load(claimed)
        # Signals are read for the executions whose record says one may wait (all, with a
        # store that does not tell); a record that could not be loaded fails anyway.
        waiting = [i for i in claimed if getattr(records.get(i), "signals_waiting", True)]
        try:
            signals = self.persistence.take_signals_many(waiting) if waiting else {}
        except Exception:  # noqa: BLE001 - unapplied signals are picked up by the next poll
            log.exception("engine: reading the signals of claimed executions failed")
            signals = {}
        for execution_id in claimed:
            ex = self._resume(execution_id, records.get(execution_id))
            if ex is None:
                continue
            co.executions[execution_id] = ex
            # ex.start(), or carry on with a rollback; wait again at an approval.
            co.guarded(ex, start_claimed, ex)
            if not ex.finished:
                co.guarded(ex, self.apply_signals, ex, signals.get(execution_id, []))

    def _resume(self, execution_id: Any, record: ExecutionRecord | str | None) -> ExecutionRun | None:
        """The run of a claimed execution, or None when it cannot be run (then it is
        failed with the reason by the writer)."""
        failures = self.coordinator.batch.failures
        if not isinstance(record, ExecutionRecord):
            failures[execution_id] = {"message": f"the execution could not be loaded: {record}"}
            return None
        try:
            plan = self.plans.get(record.definition, record.definition_text)
        except DefinitionError as exc:
            failures[execution_id] = {"message": "invalid definition", "errors": exc.errors}
            return None
        except Exception as exc:  # noqa: BLE001 - e.g. a saved setting of the wrong type
            log.exception("engine: execution %s: its workflow version cannot be planned", execution_id)
            failures[execution_id] = {"message": f"invalid definition: {type(exc).__name__}: {reason(exc)}"}
            return None
        try:
            return self.resume(record, plan)
        except Exception as exc:  # noqa: BLE001 - e.g. stored state of an unexpected shape
            log.exception("engine: execution %s could not be resumed", execution_id)
            failures[execution_id] = {"message": f"internal error: {type(exc).__name__}: {reason(exc)}"}
            return None

    def _load(self, claimed: list[Any]) -> dict[Any, ExecutionRecord | str]:
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

    # -- signals -------------------------------------------------------------------------------
    def on_signal(self, execution_id: Any) -> None:
        """A signal was sent to an execution (a wake-up, or found by the poll)."""
        ex = self.coordinator.executions.get(execution_id)
        if ex is not None:
            self.coordinator.guarded(ex, self.apply_signals, ex, self.persistence.take_signals(ex.id))

    def apply_signals(self, ex: ExecutionRun, records: list[SignalRecord]) -> None:
        for record in records:
            if record.id in self._applied_signals:
                continue
            self._applied_signals.add(record.id)
            # Applied whatever happens: a signal whose handling fails the execution
            # (`guarded`) is not handled again and again.
            self.coordinator.batch.signals_applied.append(record.id)
            apply_signal(ex, record)

    def _poll_signals(self) -> None:
        for execution_id in self.persistence.executions_with_signals(self.engine_id):
            self.coordinator.safe(self.on_signal, execution_id)

    # -- keeping and letting go ----------------------------------------------------------------
    def heartbeat(self) -> None:
        co = self.coordinator
        taken = co.safe(self.persistence.heartbeat, self.engine_id, list(co.executions))
        for execution_id in taken or []:
            # Another engine took this execution over (this one looked dead to it, e.g.
            # stalled past `stale_after`): stop driving it at once. Nothing is written for
            # it any more; the fence in the store drops what was already on its way.
            ex = co.executions.get(execution_id)
            if ex is not None:
                log.warning("engine: execution %s was taken over by another engine; abandoning it", execution_id)
                co.drop(ex)

    def release(self) -> None:
        """Wait until the writer has committed everything, then let other engines take over."""
        self.coordinator.writer.barrier(30)
        held = list(self.coordinator.executions)
        self.persistence.release(self.engine_id, held)
        if held:
            log.info("engine %s: %d executions handed back (another engine takes them over now): %s",
                     self.engine_id, len(held), ", ".join(map(str, held[:20])))
