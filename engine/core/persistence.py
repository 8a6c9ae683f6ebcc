"""What the engine needs from storage, and an in-memory implementation for core tests.

The coordinator collects every state change of a tick into a `Batch`; `flush` writes it
in one transaction and only then is the batch announced (persist, then announce).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Batch:
    node_runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> latest row
    new_ids: set[str] = field(default_factory=set)
    claims: list[str] = field(default_factory=list)  # queued -> running compare-and-set
    events: list[dict[str, Any]] = field(default_factory=list)
    executions: dict[Any, dict[str, Any]] = field(default_factory=dict)  # id -> changed fields
    signals_applied: list[Any] = field(default_factory=list)
    # Loop items kept as dead letters (SPEC §4.5), written in the same transaction.
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    # Owner of each execution whose status changed: who the announcement is for (not stored).
    owners: dict[Any, Any] = field(default_factory=dict)
    # Events that do not count toward the engine's write-behind bound: the queueing of the
    # held part of a burst (engine.core.execution), which is bookkeeping, not new work.
    unpaced_events: int = 0
    # Executions to stop as failed with this error, by the writer after the batch
    # (`Persistence.fail_execution`): those the coordinator could not run or stop itself.
    failures: dict[Any, dict[str, Any]] = field(default_factory=dict)

    def merge(self, later: Batch) -> None:
        """Fold a later batch into this one (the later state of a row wins)."""
        self.node_runs.update(later.node_runs)
        self.new_ids |= later.new_ids
        self.claims += later.claims
        self.events += later.events
        for execution_id, fields in later.executions.items():
            self.executions.setdefault(execution_id, {}).update(fields)
        self.signals_applied += later.signals_applied
        self.dead_letters += later.dead_letters
        self.owners.update(later.owners)
        self.unpaced_events += later.unpaced_events
        self.failures.update(later.failures)

    def __bool__(self) -> bool:
        return bool(self.node_runs or self.events or self.executions or self.signals_applied or self.dead_letters)

    def by_execution(self) -> tuple[dict[Any, Batch], Batch]:
        """This batch cut into one batch per execution, plus the rest (applied signals,
        which name no execution): each can then be written on its own, so that what the
        database refuses of one execution costs no other its writes."""
        parts: dict[Any, Batch] = {}

        def part(execution_id: Any) -> Batch:
            found = parts.get(execution_id)
            if found is None:
                found = parts[execution_id] = Batch()
            return found

        claims = set(self.claims)
        for run_id, row in self.node_runs.items():
            target = part(row["execution_id"])
            target.node_runs[run_id] = row
            if run_id in self.new_ids:
                target.new_ids.add(run_id)
            if run_id in claims:
                target.claims.append(run_id)
        for event in self.events:
            part(event["execution_id"]).events.append(event)
        for execution_id, fields in self.executions.items():
            part(execution_id).executions[execution_id] = fields
        for letter in self.dead_letters:
            part(letter["execution_id"]).dead_letters.append(letter)
        for execution_id, owner in self.owners.items():
            if execution_id in parts:
                parts[execution_id].owners[execution_id] = owner
        return parts, Batch(signals_applied=list(self.signals_applied))


@dataclass
class ExecutionRecord:
    id: Any
    definition: dict[str, Any] | None  # None when `definition_text` carries it
    input: Any
    trace_id: str
    status: str
    state: dict[str, Any]
    last_seq: int
    node_runs: list[dict[str, Any]]  # ordered by seq
    owner: Any = None
    priority: int = 0
    # The definition as stored (JSON text), when the store has it: plans are cached by it,
    # so a version already planned costs a string hash instead of a parse and a re-encode.
    definition_text: str | None = None
    # False when the store read, with the record, that no signal waits for the execution:
    # the claim then asks for none (a signal sent later reaches the owner by its wake-up).
    signals_waiting: bool = True
    # Pinned test data the run uses, {node id: output} (editor.pins), read with the record:
    # stored once when the run was recorded, apart from `state`, which every save rewrites.
    pinned: dict[str, Any] | None = None


@dataclass
class SignalRecord:
    id: Any
    type: str
    reason: str = ""
    data: Any = None
    sent_by: str = ""


class Persistence(Protocol):
    def flush(self, batch: Batch, engine_id: str) -> set[str]:
        """Write the batch atomically; return the ids of claims that another engine won."""

    def announce(self, batch: Batch) -> None: ...

    def has_listeners(self, batch: Batch) -> bool:
        """Would `announce` reach anyone? (When not, the announcer thread is not woken.)"""

    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]: ...

    def expire_queued(self, now: datetime) -> list[Any]:
        """Fail the queued runs that waited past their queue's `timeout` (SPEC §4.5) as
        `timed_out`, each with an `execution.timed_out` event; return their ids."""

    def executions_with_signals(self, engine_id: str) -> list[Any]:
        """The executions this engine owns that have signals not applied yet."""

    def load_many(self, execution_ids: list[Any]) -> dict[Any, ExecutionRecord]:
        """`load` for several executions at once (a claim usually wins a burst of runs)."""

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> list[Any] | None:
        """Renew the executions' heartbeats; return those another engine owns now."""

    def take_signals(self, execution_id: Any) -> list[SignalRecord]: ...

    def take_signals_many(self, execution_ids: list[Any]) -> dict[Any, list[SignalRecord]]: ...

    def release(self, engine_id: str, execution_ids: list[Any]) -> None: ...

    def fail_execution(self, execution_id: Any, engine_id: str, error: dict[str, Any]) -> Batch | None:
        """Stop an execution this engine owns as failed with `error`, on its own and
        writing nothing of its state (which may be what could not be written): unfinished
        node runs become cancelled, an `execution.failed` event follows the last stored one,
        and the execution is released. Returns what to announce (None: not ours any more)."""

    def is_transient(self, exc: BaseException) -> bool:
        """Is this write error worth trying again (a locked or lost database) rather than
        refused data?"""

    def thread_done(self) -> None:
        """An engine thread ends: give back what it holds (a database connection is per
        thread; one left open by a stopped engine would stay taken until the process ends)."""


class MemoryPersistence:
    """Dict-backed persistence for unit tests of the core (no database)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executions: dict[Any, dict[str, Any]] = {}
        self.node_runs: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.signals: list[tuple[Any, SignalRecord]] = []
        self.announced: list[dict[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.stopped: set[Any] = set()  # failed by `fail_execution`
        self._next = 0

    def create_execution(self, definition: dict[str, Any], input: Any = None, *, trace_id: str = "trace-000000",
                         pinned: dict[str, Any] | None = None) -> int:
        with self.lock:
            self._next += 1
            self.executions[self._next] = {
                "id": self._next, "definition": definition, "input": input or {}, "trace_id": trace_id,
                "status": "queued", "state": {}, "last_seq": 0, "engine_id": "", "heartbeat_at": None,
                "output": None, "error": None, "created_at": now(), "pinned": pinned,
            }
            return self._next

    def flush(self, batch: Batch, engine_id: str) -> set[str]:
        with self.lock:
            # Refuse what a database refuses (its JSON_VALID check), before writing anything.
            for value in [*batch.node_runs.values(), *batch.events, *batch.executions.values()]:
                json.dumps(value, default=str, allow_nan=False)
            lost: set[str] = set()
            if self.stopped:  # the fence (engine.store.writes): nothing more of a stopped execution
                batch.node_runs = {k: r for k, r in batch.node_runs.items() if r["execution_id"] not in self.stopped}
                batch.events = [e for e in batch.events if e["execution_id"] not in self.stopped]
                batch.executions = {k: v for k, v in batch.executions.items() if k not in self.stopped}
            for run_id, row in batch.node_runs.items():
                old = self.node_runs.get(run_id)
                if run_id in batch.claims and old is not None and old["status"] not in ("queued", "retrying"):
                    lost.add(run_id)
                    continue
                self.node_runs[run_id] = dict(row)
            self.events.extend(dict(e) for e in batch.events)
            for ex_id, fields in batch.executions.items():
                self.executions[ex_id].update(fields)
            self.dead_letters.extend(dict(d) for d in batch.dead_letters)
            return lost

    def announce(self, batch: Batch) -> None:
        self.announced.extend(batch.events)

    def has_listeners(self, batch: Batch) -> bool:
        return True  # `announced` is what the tests listen to

    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]:
        with self.lock:
            claimed = []
            for ex in self.executions.values():
                if ex["status"] == "queued" or (ex["status"] in ("running", "paused") and ex["engine_id"] != engine_id
                                                and (ex["heartbeat_at"] is None
                                                     or (now() - ex["heartbeat_at"]).total_seconds() > stale_after_s)):
                    if ex["status"] == "queued":
                        ex["status"] = "running"
                    ex["engine_id"] = engine_id
                    ex["heartbeat_at"] = now()
                    claimed.append(ex["id"])
                if len(claimed) >= limit:
                    break
            return claimed

    def expire_queued(self, at: datetime) -> list[Any]:
        with self.lock:
            expired = []
            for ex in self.executions.values():
                queue = ((ex["definition"] or {}).get("settings") or {}).get("queue") or {}
                timeout = queue.get("timeout") if isinstance(queue, dict) else None
                if ex["status"] != "queued" or not timeout:
                    continue
                waited_ms = (at - ex["created_at"]).total_seconds() * 1000
                if waited_ms < float(timeout):
                    continue
                error = {"message": "queue timeout", "waitedMs": round(waited_ms), "queueTimeoutMs": int(timeout)}
                ex.update(status="timed_out", error=error, finished_at=at, last_seq=ex["last_seq"] + 1)
                self.events.append({"execution_id": ex["id"], "seq": ex["last_seq"], "type": "execution.timed_out",
                                    "ts": at, "node_id": "", "node_run_id": "", "branch_id": "", "branch_name": "",
                                    "trace_id": ex["trace_id"], "attempt": None, "iteration": None,
                                    "status": "timed_out", "data": {"error": error}})
                expired.append(ex["id"])
            return expired

    def executions_with_signals(self, engine_id: str) -> list[Any]:
        with self.lock:
            waiting = dict.fromkeys(ex for ex, _ in self.signals)
            return [ex for ex in waiting if ex in self.executions and self.executions[ex]["engine_id"] == engine_id]

    def _load(self, execution_id: Any) -> ExecutionRecord | None:
        with self.lock:
            ex = self.executions.get(execution_id)
            if ex is None:
                return None
            runs = sorted((r for r in self.node_runs.values() if r["execution_id"] == execution_id),
                          key=lambda r: r["seq"])
            return ExecutionRecord(ex["id"], ex["definition"], ex["input"], ex["trace_id"], ex["status"],
                                   dict(ex["state"]), ex["last_seq"], [dict(r) for r in runs],
                                   pinned=ex.get("pinned"))

    def load_many(self, execution_ids: list[Any]) -> dict[Any, ExecutionRecord]:
        return {i: r for i in execution_ids if (r := self._load(i)) is not None}

    def take_signals_many(self, execution_ids: list[Any]) -> dict[Any, list[SignalRecord]]:
        return {i: s for i in execution_ids if (s := self.take_signals(i))}

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> None:
        with self.lock:
            for ex_id in execution_ids:
                if self.executions[ex_id]["engine_id"] == engine_id:
                    self.executions[ex_id]["heartbeat_at"] = now()

    def take_signals(self, execution_id: Any) -> list[SignalRecord]:
        with self.lock:
            mine = [s for ex, s in self.signals if ex == execution_id]
            self.signals = [(ex, s) for ex, s in self.signals if ex != execution_id]
            return mine

    def release(self, engine_id: str, execution_ids: list[Any]) -> None:
        with self.lock:
            for ex_id in execution_ids:
                if self.executions[ex_id]["engine_id"] == engine_id:
                    self.executions[ex_id]["engine_id"] = ""
                    self.executions[ex_id]["heartbeat_at"] = None

    def fail_execution(self, execution_id: Any, engine_id: str, error: dict[str, Any]) -> Batch | None:
        with self.lock:
            ex = self.executions.get(execution_id)
            if ex is None or ex["engine_id"] != engine_id or ex["status"] not in ("queued", "running", "paused"):
                return None
            at = now()
            for row in self.node_runs.values():
                if row["execution_id"] == execution_id and row["status"] in ("queued", "retrying", "running"):
                    row.update(status="cancelled", finished_at=at, error=error)
            seq = max((e["seq"] for e in self.events if e["execution_id"] == execution_id), default=0) + 1
            event = {"execution_id": execution_id, "seq": seq, "type": "execution.failed", "ts": at, "node_id": "",
                     "node_run_id": "", "branch_id": "", "branch_name": "", "trace_id": ex["trace_id"],
                     "attempt": None, "iteration": None, "status": "failed", "data": {"error": error}}
            self.events.append(event)
            ex.update(status="failed", error=error, finished_at=at, last_seq=seq, engine_id="", heartbeat_at=None)
            self.stopped.add(execution_id)
            return Batch(events=[event], executions={execution_id: {"status": "failed"}})

    def is_transient(self, exc: BaseException) -> bool:
        return False

    def thread_done(self) -> None:
        pass  # nothing is held per thread
