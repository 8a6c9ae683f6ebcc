"""Which executions this engine drives: claims of queued runs (compare-and-set
`UPDATE … WHERE status='queued'`), take-over of orphans whose engine stopped heart-beating,
the heartbeat itself, release, and the run queue's timeout (SPEC §4.5).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine.live.announce import announce_status
from engine.models import Event, Execution
from engine.store.dead_letters import keep_failed_runs
from engine.store.queue import runnable_queued_ids, version_queue_settings
from engine.store.sql import adapt, in_chunks, keep_connection

log = logging.getLogger("engine")

ORPHAN_SCAN_INTERVAL_S = 1.0


class ExecutionClaims:
    """Claims, heartbeats and release of executions for one engine."""

    def __init__(self) -> None:
        self._next_orphan_scan = 0.0
        qn = connection.ops.quote_name
        self._ex_table = qn(Execution._meta.db_table)
        self._qn_id, self._qn_status = qn("id"), qn("status")

    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]:
        keep_connection()
        now = timezone.now()
        claimed: list[Any] = []
        runnable = runnable_queued_ids(limit)
        if runnable:
            # One compare-and-set statement for the lot; RETURNING tells which were won
            # (SQLite ≥ 3.35 and PostgreSQL). The queue's order is kept for starting them.
            qn = connection.ops.quote_name
            winners: set[Any] = set()
            with connection.cursor() as cursor:
                for chunk, marks in in_chunks(runnable):
                    cursor.execute(
                        f"UPDATE {self._ex_table} SET {self._qn_status} = 'running', {qn('engine_id')} = %s, "
                        f"{qn('heartbeat_at')} = %s WHERE {self._qn_id} IN ({marks}) AND {self._qn_status} = 'queued' "
                        f"RETURNING {self._qn_id}",
                        [engine_id, adapt("heartbeat_at", now), *chunk],
                    )
                    winners.update(row[0] for row in cursor.fetchall())
            claimed = [execution_id for execution_id in runnable if execution_id in winners]
        # Orphans (their engine stopped heart-beating for `stale_after_s`) are not urgent:
        # look for them once a second, not on every wake-up that a new run causes.
        mono = time.monotonic()
        if mono < self._next_orphan_scan:
            return claimed
        self._next_orphan_scan = mono + ORPHAN_SCAN_INTERVAL_S
        try:
            self._claim_orphans(engine_id, now, stale_after_s, limit, claimed)
        except Exception:  # noqa: BLE001 - the runs won above are ours: they must be returned to be run
            log.exception("engine: the scan for orphaned executions failed")
        return claimed

    def _claim_orphans(self, engine_id: str, now: Any, stale_after_s: float, limit: int, claimed: list[Any]) -> None:
        """Take over executions whose engine stopped heart-beating; append each won to `claimed`."""
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

    def expire_queued(self, now: Any) -> list[Any]:
        """Runs that waited past `settings.queue.timeout` fail with "queue timeout"."""
        expired = expire_queued(now)
        for execution_id in expired:
            # Committed above; now tell the executions list. (Its event stream finds the
            # stored `execution.timed_out` event by following the store.)
            try:
                announce_status(execution_id)
            except Exception:  # noqa: BLE001 - an unreachable channel layer must not undo the expiry
                log.warning("could not announce the queue timeout of execution %s", execution_id, exc_info=True)
        return expired

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> list[Any]:
        """Renew this engine's executions; return those another engine has taken over."""
        if not execution_ids:
            return []
        Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(heartbeat_at=timezone.now())
        owned = set(Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).values_list("id", flat=True))
        return [execution_id for execution_id in execution_ids if execution_id not in owned]

    def release(self, engine_id: str, execution_ids: list[Any]) -> None:
        if execution_ids:
            Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(engine_id="", heartbeat_at=None)



QUEUE_TIMEOUT_MESSAGE = "queue timeout"


def expire_queued(now: Any, *, limit: int = 2000) -> list[Any]:
    """Fail the queued runs that waited longer than their workflow's `queue.timeout` ms:
    status `timed_out`, error "queue timeout", an `execution.timed_out` event, and a dead
    letter when the queue keeps them. Compare-and-set on `status='queued'`, so a run an
    engine claimed meanwhile is left alone. Returns the ids that expired."""
    # Most queues have no timeout: find that out from the distinct versions waiting (a few
    # rows), before reading any queued run.
    versions = set(
        Execution.objects.filter(status="queued").order_by().values_list("version_id", flat=True).distinct()
    )
    if not versions:
        return []
    timeouts: dict[Any, float] = {}
    for version_id, queue in version_queue_settings(versions).items():
        timeout = queue.get("timeout")
        if timeout:
            timeouts[version_id] = float(timeout)
    if not timeouts:
        return []
    # Nothing created after this can have waited long enough under any of the timeouts.
    oldest_due = now - timedelta(milliseconds=min(timeouts.values()))
    queued = list(
        Execution.objects.filter(status="queued", version_id__in=list(timeouts), created_at__lte=oldest_due)
        .order_by("created_at", "id")
        .values_list("id", "created_at", "version_id")[:limit]
    )
    expired: list[Any] = []
    for execution_id, created_at, version_id in queued:
        timeout = timeouts[version_id]
        if created_at + timedelta(milliseconds=timeout) > now:
            continue
        waited_ms = round((now - created_at).total_seconds() * 1000)
        error = {"message": QUEUE_TIMEOUT_MESSAGE, "waitedMs": waited_ms, "queueTimeoutMs": int(timeout)}
        with transaction.atomic():
            won = Execution.objects.filter(id=execution_id, status="queued").update(
                status="timed_out", error=error, finished_at=now, last_seq=F("last_seq") + 1
            )
            if not won:
                continue
            execution = Execution.objects.only("last_seq", "trace_id").get(id=execution_id)
            Event.objects.create(
                execution_id=execution_id, seq=execution.last_seq, type="execution.timed_out", ts=now,
                trace_id=execution.trace_id, status="timed_out", data={"error": error},
            )
            keep_failed_runs([execution_id])
        expired.append(execution_id)
    return expired
