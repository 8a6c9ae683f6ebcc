"""Django persistence for the engine: write a tick's batch in one transaction, then announce.

Claims are compare-and-set updates, so two engines on one database never drive the same
execution or run the same node run: an execution is taken with
`UPDATE … WHERE status='queued'` (or a stale heartbeat), a node run with
`UPDATE … WHERE status='queued'` just before it is handed to a worker.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Field, Model, Q
from django.utils import timezone

from editor.models import WorkflowVersion
from engine.core.json_bounds import strict_dumps
from engine.core.persistence import Batch, ExecutionRecord, SignalRecord
from engine.models import Event, Execution, NodeRun, PendingSignal

log = logging.getLogger("engine")

NODE_RUN_FIELDS = [
    "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id", "branch_name", "trace_id",
    "queued_at", "started_at", "finished_at", "input", "output", "error", "handle", "claimed_by", "seq",
]


JSON_FIELDS = {"input", "output", "error", "data", "state"}
DATETIME_FIELDS = {"queued_at", "started_at", "finished_at", "ts", "heartbeat_at"}


# SQLite and MySQL store naive datetimes in the connection's time zone: UTC unless
# DATABASES["default"]["TIME_ZONE"] says otherwise. PostgreSQL takes aware values as they are.
_DB_IN_UTC = connection.vendor != "postgresql" and settings.USE_TZ and not connection.settings_dict.get("TIME_ZONE")


def _adapt(field: str, value: Any, ops: Any = None) -> Any:
    """Python value → database parameter, as the ORM would send it. Pass `ops`
    (`connection.ops`) in loops: the connection proxy's look-up is thread-local and costs
    more than the conversion."""
    if value is None:
        return None
    if field in JSON_FIELDS:
        try:
            # The C encoder; DjangoJSONEncoder (same text for plain JSON) only for the rest.
            # NaN and Infinity are refused here, by name, rather than by the database's
            # JSON check (the engine then fails only the execution that holds them).
            return strict_dumps(value)
        except TypeError:
            return (ops or connection.ops).adapt_json_value(value, DjangoJSONEncoder)
        except ValueError as exc:
            raise UnstorableValue(f"its {field} holds a number that is not finite (NaN or Infinity)"
                                  if "Out of range float" in str(exc) else f"its {field}: {exc}") from None
        except RecursionError:
            raise UnstorableValue(f"its {field} is nested too deeply") from None
    if field in DATETIME_FIELDS:
        if value.tzinfo is UTC and _DB_IN_UTC:
            return str(value.replace(tzinfo=None))  # what the backend does for UTC, minus its checks
        return (ops or connection.ops).adapt_datetimefield_value(value)
    return value


class UnstorableValue(ValueError):
    """A value the database cannot hold as JSON (the message names the field and why)."""


def _json_value(value: Any) -> Any:
    """A JSON column read with a raw query: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def in_chunks(ids: list[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """`ids` in chunks under SQLite's bound-variable limit, each with its `%s, %s, …` list
    for an `IN (…)` clause."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ", ".join(["%s"] * len(chunk))


def _row_builder(fields: list[str]) -> Callable[[dict[str, Any], Any], list[Any]]:
    """`row -> parameters` for `fields`, adapting only the fields that need it: the writer
    builds tens of thousands of these per second in a big loop."""
    plain = itemgetter(*fields)
    special = [(i, f) for i, f in enumerate(fields) if f in JSON_FIELDS or f in DATETIME_FIELDS]

    def build(row: dict[str, Any], ops: Any) -> list[Any]:
        values = list(plain(row))
        for i, field in special:
            values[i] = _adapt(field, values[i], ops)
        return values

    return build


def _columns(model: Any, fields: list[str]) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(f).column) for f in fields]


ORPHAN_SCAN_INTERVAL_S = 1.0


# Per model: the INSERT, its fields, whether the database numbers the row (an AutoField),
# and whether the number comes back with the INSERT (RETURNING) rather than as lastrowid.
_INSERTS: dict[type[Model], tuple[str, list[Field[Any, Any]], bool, bool]] = {}


def insert(instance: Model) -> None:
    """`instance.save()` of a new row, with the INSERT statement built once per model
    instead of compiled by the ORM per call (~0.2 ms each on the run endpoint's path).
    Values are prepared by each field exactly as the ORM prepares them (`pre_save` fills
    `auto_now_add`, `get_db_prep_save` adapts JSON and datetimes); there are no
    `pre_save`/`post_save` receivers for the models this is used on."""
    model = type(instance)
    cached = _INSERTS.get(model)
    if cached is None:
        meta = model._meta
        qn = connection.ops.quote_name
        auto_pk = bool(getattr(meta.pk, "db_returning", False))  # an AutoField: the database numbers it
        fields = [f for f in meta.concrete_fields if not (auto_pk and f.primary_key)]
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))})")
        returning = auto_pk and connection.features.can_return_columns_from_insert
        if returning:
            sql += f" RETURNING {qn(meta.pk.column)}"  # type: ignore[union-attr]
        cached = _INSERTS[model] = (sql, fields, auto_pk, returning)
    sql, fields, auto_pk, returning = cached
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto_pk:
            instance.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias


def _keep_connection() -> None:
    """The coordinator's connection lives as long as the engine, whatever CONN_MAX_AGE
    (a setting for requests) says: a claim that reconnected would pay a connect, the
    PRAGMAs and a cold page cache. Reconnect only when an error has left it unusable (as
    Django's own health check does)."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


class DjangoPersistence:
    """Writes a tick's batch with a handful of `executemany` statements: the ORM's
    per-object work would cost more than the engine itself (see docs in README)."""

    def __init__(self) -> None:
        self._next_orphan_scan = 0.0
        qn = connection.ops.quote_name
        run_fields = ["id", "execution", *NODE_RUN_FIELDS]
        self._run_table = qn(NodeRun._meta.db_table)
        self._insert_run = (
            f"INSERT INTO {self._run_table} ({', '.join(_columns(NodeRun, run_fields))}) "
            f"VALUES ({', '.join(['%s'] * len(run_fields))})"
        )
        update_fields = [f for f in NODE_RUN_FIELDS if f != "seq"]
        self._update_fields = update_fields
        sets = ", ".join(f"{c} = %s" for c in _columns(NodeRun, update_fields))
        self._update_run = f"UPDATE {self._run_table} SET {sets} WHERE {qn('id')} = %s"
        claim_fields = ["status", "started_at", "claimed_by", "finished_at", "output", "error", "handle"]
        self._claim_fields = claim_fields
        claim_sets = ", ".join(f"{c} = %s" for c in _columns(NodeRun, claim_fields))
        self._claim_run = (
            f"UPDATE {self._run_table} SET {claim_sets} WHERE {qn('id')} = %s "
            f"AND {qn('status')} IN ('queued', 'retrying')"
        )
        event_fields = ["execution", "seq", "type", "ts", "node_id", "node_run_id", "branch_id", "branch_name",
                        "trace_id", "attempt", "iteration", "status", "data"]
        self._event_keys = ["execution_id", *event_fields[1:]]
        self._event_row = _row_builder(self._event_keys)
        self._insert_row = _row_builder(["id", "execution_id", *NODE_RUN_FIELDS])
        self._status_at = 2 + NODE_RUN_FIELDS.index("status")
        self._update_row = _row_builder([*update_fields, "id"])
        self._insert_event = (
            f"INSERT INTO {qn(Event._meta.db_table)} ({', '.join(_columns(Event, event_fields))}) "
            f"VALUES ({', '.join(['%s'] * len(event_fields))})"
        )

        ex_table, version_table = qn(Execution._meta.db_table), qn(WorkflowVersion._meta.db_table)
        ex_cols = ", ".join(f"e.{c}" for c in _columns(Execution, ["id"]))
        self._load_executions = (
            f"SELECT {ex_cols}, v.{qn('definition')}, "
            + ", ".join(f"e.{c}" for c in _columns(Execution, ["input", "trace_id", "status", "state", "last_seq",
                                                               "owner", "priority"]))
            + f" FROM {ex_table} e JOIN {version_table} v ON v.{qn('id')} = e.{qn('version_id')}"
            + f" WHERE e.{qn('id')} IN ({{marks}})"
        )
        self._ex_table = ex_table
        self._qn_id, self._qn_status = qn("id"), qn("status")
        self._qn_execution_id = qn(NodeRun._meta.get_field("execution").column)
        self._execution_updates: dict[tuple[str, ...], str] = {}

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
                cursor.executemany(self._insert_run, inserts)
            if updates:
                cursor.executemany(self._update_run, updates)
            if batch.claims:
                lost |= self._claim(cursor, batch, engine_id, ops)
            if batch.events:
                event_row = self._event_row
                cursor.executemany(self._insert_event, [event_row(e, ops) for e in batch.events])
            if batch.executions:
                self._update_executions(cursor, batch.executions, ops)
            if batch.signals_applied:
                PendingSignal.objects.filter(id__in=batch.signals_applied).update(applied_at=timezone.now())
            if batch.dead_letters or batch.executions:
                # Dead letters (SPEC §4.5) commit with the state change that made them.
                from engine.dead_letters import keep_dead_letters

                keep_dead_letters(batch.dead_letters, batch.executions)
        return lost

    def _update_executions(self, cursor: Any, executions: dict[Any, dict[str, Any]], ops: Any) -> None:
        """One `executemany` per set of changed fields (most ticks change only `last_seq`):
        the ORM's `update()` compiled a query per execution per flush."""
        by_fields: dict[tuple[str, ...], list[list[Any]]] = {}
        for execution_id, fields in executions.items():
            names = tuple(fields)
            by_fields.setdefault(names, []).append([*(_adapt(f, fields[f], ops) for f in names), execution_id])
        for names, params in by_fields.items():
            sql = self._execution_updates.get(names)
            if sql is None:
                sets = ", ".join(f"{c} = %s" for c in _columns(Execution, list(names)))
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
                               [run_id, engine_id, _adapt("started_at", batch.node_runs[run_id]["started_at"], ops)])
                if cursor.fetchone() is not None:
                    queued.add(run_id)
        at = self._claim_fields.index("claimed_by")
        params = []
        for run_id in claims:
            if run_id not in queued:
                continue
            row = batch.node_runs[run_id]
            values = [_adapt(f, row[f], ops) for f in self._claim_fields]
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

    def thread_done(self) -> None:
        """An engine thread ends (the engine stopped): close its connection (with the
        PostgreSQL pool: give it back), whatever CONN_MAX_AGE says."""
        from django.db import connections

        connections.close_all()

    def announce(self, batch: Batch) -> None:
        from engine.live.announce import announce_batch

        announce_batch(batch)

    def has_listeners(self, batch: Batch) -> bool:
        from engine.live.announce import has_listeners

        return has_listeners(batch)

    def claim_executions(self, engine_id: str, *, stale_after_s: float, limit: int) -> list[Any]:
        _keep_connection()
        now = timezone.now()
        claimed: list[Any] = []
        from engine.queueing import runnable_queued_ids

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
                        [engine_id, _adapt("heartbeat_at", now), *chunk],
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
        from engine.live.announce import announce_status
        from engine.queueing import expire_queued

        expired = expire_queued(now)
        for execution_id in expired:
            # Committed above; now tell the executions list. (Its event stream finds the
            # stored `execution.timed_out` event by following the store.)
            try:
                announce_status(execution_id)
            except Exception:  # noqa: BLE001 - an unreachable channel layer must not undo the expiry
                log.warning("could not announce the queue timeout of execution %s", execution_id, exc_info=True)
        return expired

    def load_many(self, execution_ids: list[Any]) -> dict[Any, ExecutionRecord]:
        """One query for the executions with their versions' stored definition text (the
        plan cache is keyed by it: a known version is neither parsed nor re-encoded), then
        the node runs of those that have any."""
        records: dict[Any, ExecutionRecord] = {}
        rows: dict[Any, list[dict[str, Any]]] = {}
        with connection.cursor() as cursor:
            for chunk, marks in in_chunks(execution_ids):
                cursor.execute(self._load_executions.format(marks=marks), chunk)
                for ex_id, definition, run_input, trace_id, status, state, last_seq, owner, priority in cursor.fetchall():
                    text = definition if isinstance(definition, str) else None  # PostgreSQL hands jsonb decoded
                    records[ex_id] = ExecutionRecord(
                        id=ex_id, definition=None if text is not None else definition, definition_text=text,
                        input=_json_value(run_input), trace_id=trace_id, status=status,
                        state=dict(_json_value(state) or {}), last_seq=last_seq, node_runs=rows.setdefault(ex_id, []),
                        owner=owner, priority=priority,
                    )
                # Taken over or resumed executions have node runs; new ones (the usual case)
                # have none, and a bare id query says so without the ORM's per-query cost.
                cursor.execute(f"SELECT DISTINCT {self._qn_execution_id} FROM {self._run_table} "
                               f"WHERE {self._qn_execution_id} IN ({marks})", chunk)
                resumed = [row[0] for row in cursor.fetchall()]
                if resumed:
                    for row in (NodeRun.objects.filter(execution_id__in=resumed).order_by("execution_id", "seq")
                                .values("id", "execution_id", *NODE_RUN_FIELDS)):
                        rows.setdefault(row["execution_id"], []).append(row)
        return records

    def take_signals_many(self, execution_ids: list[Any]) -> dict[Any, list[SignalRecord]]:
        found: dict[Any, list[SignalRecord]] = {}
        qn = connection.ops.quote_name
        table = qn(PendingSignal._meta.db_table)
        with connection.cursor() as cursor:
            for chunk, marks in in_chunks(execution_ids):
                cursor.execute(
                    f"SELECT {qn('id')}, {qn('execution_id')}, {qn('type')}, {qn('reason')}, {qn('data')}, "
                    f"{qn('sent_by')} FROM {table} WHERE {qn('execution_id')} IN ({marks}) "
                    f"AND {qn('applied_at')} IS NULL ORDER BY {qn('id')}", chunk)
                for signal_id, execution_id, type_, reason, data, sent_by in cursor.fetchall():
                    found.setdefault(execution_id, []).append(
                        SignalRecord(signal_id, type_, reason, _json_value(data), sent_by))
        return found

    def heartbeat(self, engine_id: str, execution_ids: list[Any]) -> list[Any]:
        """Renew this engine's executions; return those another engine has taken over."""
        if not execution_ids:
            return []
        Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(heartbeat_at=timezone.now())
        owned = set(Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).values_list("id", flat=True))
        return [execution_id for execution_id in execution_ids if execution_id not in owned]

    def take_signals(self, execution_id: Any) -> list[SignalRecord]:
        return self.take_signals_many([execution_id]).get(execution_id, [])

    def executions_with_signals(self, engine_id: str) -> list[Any]:
        """Polled twice a second: one prepared statement, not an ORM query to compile."""
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT s.{qn('execution_id')} FROM {qn(PendingSignal._meta.db_table)} s "
                f"JOIN {self._ex_table} e ON e.{self._qn_id} = s.{qn('execution_id')} "
                f"WHERE s.{qn('applied_at')} IS NULL AND e.{qn('engine_id')} = %s", [engine_id])
            return [row[0] for row in cursor.fetchall()]

    def release(self, engine_id: str, execution_ids: list[Any]) -> None:
        if execution_ids:
            Execution.objects.filter(id__in=execution_ids, engine_id=engine_id).update(engine_id="", heartbeat_at=None)

    def is_transient(self, exc: BaseException) -> bool:
        """A locked, busy or lost database is worth another try; refused data
        (IntegrityError, DataError, UnstorableValue) is not."""
        return isinstance(exc, OperationalError | InterfaceError) and not isinstance(exc, UnstorableValue)

    def fail_execution(self, execution_id: Any, engine_id: str, error: dict[str, Any]) -> Batch | None:
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
            from engine.dead_letters import keep_dead_letters

            keep_dead_letters([], {execution_id: {"status": "failed"}})
        return Batch(events=[event], executions={execution_id: {"status": "failed"}}, owners={execution_id: owner_id})

