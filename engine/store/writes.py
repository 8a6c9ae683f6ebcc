"""The write side of the Django store: a tick's batch in one transaction (group commit), and
the failure of an execution whose own state could not be written.

Claims of node runs are compare-and-set updates (`UPDATE … WHERE status='queued'`, just
before a node run is handed to a worker), and a fence drops what belongs to executions
another engine has taken over, so two engines on one database never write over each other.
Dead letters (SPEC §4.5) commit in the same transaction as the state change that made them.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from engine.core.persistence import Batch
from engine.models import Event, Execution, NodeRun, PendingSignal
from engine.store.dead_letters import keep_dead_letters
from engine.store.sql import NODE_RUN_FIELDS, adapt, columns, in_chunks, row_builder

MULTIROW_MAX = 1000  # rows per multi-row INSERT (PostgreSQL)
COPY_FROM_ROWS = 4  # from this many rows, PostgreSQL gets them by COPY (cheaper from ~4 rows on)


class BatchWriter:
    """Writes a tick's batch with a handful of `executemany` statements: the ORM's
    per-object work would cost more than the engine itself (see docs in README)."""

    def __init__(self) -> None:
        qn = connection.ops.quote_name
        run_fields = ["id", "execution", *NODE_RUN_FIELDS]
        self._run_table = qn(NodeRun._meta.db_table)
        self._insert_run = (
            f"INSERT INTO {self._run_table} ({', '.join(columns(NodeRun, run_fields))}) "
            f"VALUES ({', '.join(['%s'] * len(run_fields))})"
        )
        update_fields = [f for f in NODE_RUN_FIELDS if f != "seq"]
        sets = ", ".join(f"{c} = %s" for c in columns(NodeRun, update_fields))
        self._update_run = f"UPDATE {self._run_table} SET {sets} WHERE {qn('id')} = %s"
        claim_fields = ["status", "started_at", "claimed_by", "finished_at", "output", "error", "handle"]
        self._claim_fields = claim_fields
        claim_sets = ", ".join(f"{c} = %s" for c in columns(NodeRun, claim_fields))
        self._claim_run = (
            f"UPDATE {self._run_table} SET {claim_sets} WHERE {qn('id')} = %s "
            f"AND {qn('status')} IN ('queued', 'retrying')"
        )
        event_fields = ["execution", "seq", "type", "ts", "node_id", "node_run_id", "branch_id", "branch_name",
                        "trace_id", "attempt", "iteration", "status", "data"]
        self._event_row = row_builder(["execution_id", *event_fields[1:]])
        self._insert_row = row_builder(["id", "execution_id", *NODE_RUN_FIELDS])
        self._status_at = 2 + NODE_RUN_FIELDS.index("status")
        self._update_row = row_builder([*update_fields, "id"])
        self._insert_event = (
            f"INSERT INTO {qn(Event._meta.db_table)} ({', '.join(columns(Event, event_fields))}) "
            f"VALUES ({', '.join(['%s'] * len(event_fields))})"
        )
        self._ex_table = qn(Execution._meta.db_table)
        self._qn_id, self._qn_status = qn("id"), qn("status")
        self._execution_updates: dict[tuple[str, ...], str] = {}
        self._multirow = connection.vendor == "postgresql"

    def flush(self, batch: Batch, engine_id: str) -> set[str]:
        lost: set[str] = set()
        with transaction.atomic(), connection.cursor() as cursor:
            # The fence: inside the write transaction, drop what belongs to executions
            # another engine has taken over (this one looked dead to it), so a late engine
            # can neither write over the new owner's rows nor hand a node run to a worker.
            lost |= self._fence(batch, engine_id)
            ops = connection.ops
            claims = set(batch.claims)
            new_ids = batch.new_ids
            inserts = []
            updates = []
            insert_row, update_row, status_at = self._insert_row, self._update_row, self._status_at
            for run_id, row in batch.node_runs.items():
                if run_id in new_ids:
                    values = insert_row(row, ops)
                    if run_id in claims:
                        values[status_at] = "queued"  # inserted queued, then claimed below
                    inserts.append(values)
                elif run_id not in claims:
                    updates.append(update_row(row, ops))
            if inserts:
                self._insert_many(cursor, self._insert_run, inserts)
            if updates:
                cursor.executemany(self._update_run, updates)
            if batch.claims:
                lost |= self._claim(cursor, batch, engine_id, ops)
            if batch.events:
                event_row = self._event_row
                self._insert_many(cursor, self._insert_event, [event_row(e, ops) for e in batch.events])
            if batch.executions:
                self._update_executions(cursor, batch.executions, ops)
            if batch.signals_applied:
                PendingSignal.objects.filter(id__in=batch.signals_applied).update(applied_at=timezone.now())
            if batch.dead_letters or batch.executions:
                # Dead letters (SPEC §4.5) commit with the state change that made them.
                keep_dead_letters(batch.dead_letters, batch.executions)
        return lost

    def _insert_many(self, cursor: Any, sql: str, rows: list[list[Any]]) -> None:
        """`executemany` of an INSERT … VALUES (…) statement; on PostgreSQL, one statement of
        a few rows, or a COPY of more (below), instead: each statement of an `executemany`
        is parsed and planned by the server on its own, and a run's eleven events and three
        node runs as separate statements were a fifth of the database's CPU per run in
        `bench scaleout`. (SQLite runs a prepared statement per row in-process, which is
        cheaper than a long one.)"""
        if not self._multirow or len(rows) < 2:
            cursor.executemany(sql, rows)
            return
        head, _, one = sql.partition(" VALUES ")
        if len(rows) >= COPY_FROM_ROWS:
            # COPY … FROM STDIN: psycopg formats the rows in C and the server parses no
            # statement text. A multi-row INSERT's text grows with its rows, and psycopg
            # splits a text of more than 50 parameters anew each time, in Python: for 50
            # event rows ~3 ms of the writer's CPU and ~2.5 ms of the server's, against
            # ~0.6 and ~0.8 ms by COPY (measured on PostgreSQL 15, psycopg 3.3).
            with cursor.cursor.copy(f"COPY {head.removeprefix('INSERT INTO ')} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        width = len(rows[0])
        # PostgreSQL takes at most 65535 parameters per statement.
        step = max(1, min(MULTIROW_MAX, 65535 // width))
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            cursor.execute(f"{head} VALUES {', '.join([one] * len(chunk))}", [v for row in chunk for v in row])

    def _update_executions(self, cursor: Any, executions: dict[Any, dict[str, Any]], ops: Any) -> None:
        """One `executemany` per set of changed fields (most ticks change only `last_seq`):
        the ORM's `update()` compiled a query per execution per flush."""
        by_fields: dict[tuple[str, ...], list[list[Any]]] = {}
        for execution_id, fields in executions.items():
            names = tuple(fields)
            by_fields.setdefault(names, []).append([*(adapt(f, fields[f], ops) for f in names), execution_id])
        for names, params in by_fields.items():
            sql = self._execution_updates.get(names)
            if sql is None:
                sets = ", ".join(f"{c} = %s" for c in columns(Execution, list(names)))
                sql = self._execution_updates[names] = f"UPDATE {self._ex_table} SET {sets} WHERE {self._qn_id} = %s"
            cursor.executemany(sql, params)

    def _claim(self, cursor: Any, batch: Batch, engine_id: str, ops: Any) -> set[str]:
        """Compare-and-set `queued` → `running` for the batch's claims (a retry waits as
        `retrying` and is claimed from there); return the ids lost
        (another engine had them). The still-queued ones are read under the write lock
        (SQLite: the IMMEDIATE transaction; PostgreSQL: FOR UPDATE), so one statement then
        claims them all; the UPDATE keeps its `status = 'queued'` guard all the same."""
        claims = list(dict.fromkeys(batch.claims))
        queued: set[str] = set()
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        for chunk, marks in in_chunks(claims):
            cursor.execute(f"SELECT {self._qn_id} FROM {self._run_table} WHERE {self._qn_id} IN ({marks}) "
                           f"AND {self._qn_status} IN ('queued', 'retrying'){lock}", chunk)
            queued.update(row[0] for row in cursor.fetchall())
        # Also ours: a row an earlier flush of this engine already wrote in exactly this
        # claim's state (running, by this engine, this start). A batch holds the
        # coordinator's live row dicts, so a writer that lags a tick behind can store a
        # row's later state one batch before the batch that claims it; taking that for a
        # lost claim stranded the execution. Rare: one look per such row.
        for run_id in claims:
            if run_id not in queued:
                cursor.execute(f"SELECT 1 FROM {self._run_table} WHERE {self._qn_id} = %s AND {self._qn_status} = "
                               f"'running' AND {connection.ops.quote_name('claimed_by')} = %s AND "
                               f"{connection.ops.quote_name('started_at')} = %s",
                               [run_id, engine_id, adapt("started_at", batch.node_runs[run_id]["started_at"], ops)])
                if cursor.fetchone() is not None:
                    queued.add(run_id)
        at = self._claim_fields.index("claimed_by")
        params = []
        for run_id in claims:
            if run_id not in queued:
                continue
            row = batch.node_runs[run_id]
            values = [adapt(f, row[f], ops) for f in self._claim_fields]
            values[at] = engine_id
            params.append([*values, run_id])
        if params:
            cursor.executemany(self._claim_run, params)
        return set(claims) - queued

    def _fence(self, batch: Batch, engine_id: str) -> set[str]:
        """Remove from `batch` (in place: it is announced after the flush) everything of
        executions not owned by `engine_id`; return the node-run ids so dropped."""
        ids = {row["execution_id"] for row in batch.node_runs.values()}
        ids.update(e["execution_id"] for e in batch.events)
        ids.update(batch.executions)
        if not ids:
            return set()
        owned: set[Any] = set()
        with connection.cursor() as cursor:
            for chunk, marks in in_chunks(list(ids)):
                cursor.execute(f"SELECT {self._qn_id} FROM {self._ex_table} WHERE {self._qn_id} IN ({marks}) "
                               f"AND {connection.ops.quote_name('engine_id')} = %s", [*chunk, engine_id])
                owned.update(row[0] for row in cursor.fetchall())
        foreign = ids - owned
        if not foreign:
            return set()
        dropped = {run_id for run_id, row in batch.node_runs.items() if row["execution_id"] in foreign}
        for run_id in dropped:
            del batch.node_runs[run_id]
        batch.new_ids -= dropped
        batch.claims = [run_id for run_id in batch.claims if run_id not in dropped]
        batch.events = [e for e in batch.events if e["execution_id"] not in foreign]
        for execution_id in foreign:
            batch.executions.pop(execution_id, None)
        return dropped


def fail_execution(execution_id: Any, engine_id: str, error: dict[str, Any]) -> Batch | None:
    """See `Persistence.fail_execution`. Writes only fields the engine made itself, so it
    cannot meet the value that failed the execution's own write."""
    at = timezone.now()
    with transaction.atomic():
        row = (Execution.objects.select_for_update().filter(id=execution_id, engine_id=engine_id,
                                                             status__in=["queued", "running", "paused"])
               .values_list("owner_id", "trace_id").first())
        if row is None:
            return None  # finished or taken over meanwhile: not ours to fail
        owner_id, trace_id = row
        NodeRun.objects.filter(execution_id=execution_id, status__in=["queued", "retrying", "running"]).update(
            status="cancelled", finished_at=at, error={"message": error.get("message", "stopped")})
        last = Event.objects.filter(execution_id=execution_id).order_by("-seq").values_list("seq", flat=True).first()
        seq = (last or 0) + 1
        event = {"execution_id": execution_id, "seq": seq, "type": "execution.failed", "ts": at, "node_id": "",
                 "node_run_id": "", "branch_id": "", "branch_name": "", "trace_id": trace_id, "attempt": None,
                 "iteration": None, "status": "failed", "data": {"error": error}}
        Event.objects.create(**event)
        Execution.objects.filter(id=execution_id).update(
            status="failed", error=error, finished_at=at, last_seq=seq, engine_id="", heartbeat_at=None)
        keep_dead_letters([], {execution_id: {"status": "failed"}})
    return Batch(events=[event], executions={execution_id: {"status": "failed"}}, owners={execution_id: owner_id})

