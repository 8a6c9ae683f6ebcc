"""Django persistence for the engine: write a tick's batch in one transaction, then announce.

Claims are compare-and-set updates, so two engines on one database never drive the same
execution or run the same node run: an execution is taken with
`UPDATE … WHERE status='queued'` (or a stale heartbeat), a node run with
`UPDATE … WHERE status='queued'` just before it is handed to a worker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from engine.core.persistence import Batch, ExecutionRecord, SignalRecord
from engine.models import Event, Execution, NodeRun, PendingSignal

NODE_RUN_FIELDS = [
    "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id", "branch_name", "trace_id",
    "queued_at", "started_at", "finished_at", "input", "output", "error", "handle", "claimed_by", "seq",
]


class DjangoPersistence:
    def flush(self, batch: Batch, engine_id: str) -> set[str]:
        lost: set[str] = set()
        with transaction.atomic():
            new_rows = []
            for run_id, row in batch.node_runs.items():
                if run_id in batch.new_ids:
                    status = "queued" if run_id in batch.claims else row["status"]
                    fields = {f: row[f] for f in NODE_RUN_FIELDS}
                    fields["status"] = status
                    new_rows.append(NodeRun(id=run_id, execution_id=row["execution_id"], **fields))
            if new_rows:
                NodeRun.objects.bulk_create(new_rows, batch_size=500)
            for run_id, row in batch.node_runs.items():
                if run_id in batch.claims:
                    # Compare-and-set: only a queued node run can be claimed.
                    won = NodeRun.objects.filter(id=run_id, status="queued").update(
                        status=row["status"], started_at=row["started_at"], claimed_by=engine_id,
                        finished_at=row["finished_at"], output=row["output"], error=row["error"],
                        handle=row["handle"],
                    )
                    if not won:
                        lost.add(run_id)
                elif run_id not in batch.new_ids:
                    NodeRun.objects.filter(id=run_id).update(**{f: row[f] for f in NODE_RUN_FIELDS if f != "seq"})
            if batch.events:
                Event.objects.bulk_create([Event(**e) for e in batch.events], batch_size=500)
            for execution_id, fields in batch.executions.items():
                Execution.objects.filter(id=execution_id).update(**fields)
            if batch.signals_applied:
                PendingSignal.objects.filter(id__in=batch.signals_applied).update(applied_at=timezone.now())
        return lost

    def announce(self, batch: Batch) -> None:
        from engine.announce import announce_batch

        announce_batch(batch)

    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]:
        close_old_connections()
        now = timezone.now()
        claimed: list[Any] = []
        from engine.queueing import runnable_queued_ids

        for execution_id in runnable_queued_ids(limit):
            won = Execution.objects.filter(id=execution_id, status="queued").update(
                status="running", engine_id=engine_id, heartbeat_at=now
            )
            if won:
                claimed.append(execution_id)
        stale = now - timedelta(seconds=stale_after_s)
        orphans = (
            Execution.objects.filter(status__in=["running", "paused"])
            .exclude(engine_id=engine_id)
            .filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True) | Q(engine_id=""))
            .values_list("id", "engine_id", "heartbeat_at")[:limit]
        )
        for execution_id, old_engine, old_heartbeat in list(orphans):
            won = Execution.objects.filter(id=execution_id, engine_id=old_engine, heartbeat_at=old_heartbeat).update(
                engine_id=engine_id, heartbeat_at=now
            )
            if won:
                claimed.append(execution_id)
        return claimed

    def load(self, execution_id: Any) -> ExecutionRecord | None:
        ex = Execution.objects.select_related("version").filter(id=execution_id).first()
        if ex is None:
            return None
        rows = list(
            NodeRun.objects.filter(execution_id=execution_id)
            .order_by("seq")
            .values("id", "execution_id", *NODE_RUN_FIELDS)
        )
        return ExecutionRecord(
            id=ex.id, definition=ex.version.definition, input=ex.input, trace_id=ex.trace_id,
            status=ex.status, state=dict(ex.state or {}), last_seq=ex.last_seq, node_runs=rows,
            owner=ex.owner_id, priority=ex.priority,
        )

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> None:
        if execution_ids:
            Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(heartbeat_at=timezone.now())

    def take_signals(self, execution_id: Any) -> list[SignalRecord]:
        return [
            SignalRecord(s.id, s.type, s.reason, s.data, s.sent_by)
            for s in PendingSignal.objects.filter(execution_id=execution_id, applied_at__isnull=True).order_by("id")
        ]

    def executions_with_signals(self, engine_id: str) -> list[Any]:
        return list(
            PendingSignal.objects.filter(applied_at__isnull=True, execution__engine_id=engine_id)
            .values_list("execution_id", flat=True)
            .distinct()
        )

    def release(self, engine_id: str, execution_ids: list[Any]) -> None:
        if execution_ids:
            Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(engine_id="", heartbeat_at=None)


def worker_setup() -> None:
    """Each pooled thread checks its connection like a request would."""
    close_old_connections()


def worker_teardown() -> None:
    connection.close()
