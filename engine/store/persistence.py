"""`DjangoPersistence`: the engine's `Persistence` (engine.core.persistence) on the Django
database, put together from the store's parts: the batch writer (`writes`), claims and
heartbeats (`claims`), reads of executions and signals (`reads`); committed batches go to the
live stream (`engine.live.announce`) only after their transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError, connections

from engine.core.persistence import Batch, ExecutionRecord, SignalRecord
from engine.live.announce import announce_batch, has_listeners
from engine.store.claims import ExecutionClaims
from engine.store.reads import ExecutionReads
from engine.store.sql import UnstorableValue
from engine.store.writes import BatchWriter, fail_execution


class DjangoPersistence:
    """Claims are compare-and-set updates, so two engines on one database never drive the
    same execution or run the same node run: an execution is taken with
    `UPDATE … WHERE status='queued'` (or a stale heartbeat), a node run with
    `UPDATE … WHERE status='queued'` just before it is handed to a worker."""

    def __init__(self) -> None:
        self._writer = BatchWriter()
        self._claims = ExecutionClaims()
        self._reads = ExecutionReads()

    # -- writes --
    def flush(self, batch: Batch, engine_id: str) -> set[str]:
        return self._writer.flush(batch, engine_id)

    def fail_execution(self, execution_id: Any, engine_id: str, error: dict[str, Any]) -> Batch | None:
        return fail_execution(execution_id, engine_id, error)

    def is_transient(self, exc: BaseException) -> bool:
        """A locked, busy or lost database is worth another try; refused data
        (IntegrityError, DataError, UnstorableValue) is not."""
        return isinstance(exc, OperationalError | InterfaceError) and not isinstance(exc, UnstorableValue)

    def thread_done(self) -> None:
        """An engine thread ends (the engine stopped): close its connection (with the
        PostgreSQL pool: give it back), whatever CONN_MAX_AGE says."""
        connections.close_all()

    # -- the live stream, after the commit --
    def announce(self, batch: Batch) -> None:
        announce_batch(batch)

    def has_listeners(self, batch: Batch) -> bool:
        return has_listeners(batch)

    # -- claims --
    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]:
        return self._claims.claim_executions(engine_id, stale_after_s=stale_after_s, limit=limit)

    def expire_queued(self, now: Any) -> list[Any]:
        return self._claims.expire_queued(now)

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> list[Any]:
        return self._claims.heartbeat(engine_id, execution_ids)

    def release(self, engine_id: str, execution_ids: list[Any]) -> None:
        self._claims.release(engine_id, execution_ids)

    # -- reads --
    def load_many(self, execution_ids: list[Any]) -> dict[Any, ExecutionRecord]:
        return self._reads.load_many(execution_ids)

    def take_signals(self, execution_id: Any) -> list[SignalRecord]:
        return self._reads.take_signals(execution_id)

    def take_signals_many(self, execution_ids: list[Any]) -> dict[Any, list[SignalRecord]]:
        return self._reads.take_signals_many(execution_ids)

    def executions_with_signals(self, engine_id: str) -> list[Any]:
        return self._reads.executions_with_signals(engine_id)
