"""The read side of the Django store: executions with their definitions and node runs (on
a claim or a take-over), and pending signals.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from editor.models import WorkflowVersion
from engine.core.persistence import ExecutionRecord, SignalRecord
from engine.models import Execution, ExecutionPins, NodeRun, PendingSignal
from engine.store.sql import NODE_RUN_FIELDS, columns, in_chunks, json_value


class ExecutionReads:
    """Loads what the coordinator needs to drive an execution, in a few plain statements."""

    def __init__(self) -> None:
        qn = connection.ops.quote_name
        self._run_table = qn(NodeRun._meta.db_table)
        self._qn_execution_id = qn(NodeRun._meta.get_field("execution").column)
        ex_table, version_table = qn(Execution._meta.db_table), qn(WorkflowVersion._meta.db_table)
        pins_table = qn(ExecutionPins._meta.db_table)
        ex_cols = ", ".join(f"e.{c}" for c in columns(Execution, ["id"]))
        self._load_executions = (
            f"SELECT {ex_cols}, v.{qn('definition')}, "
            + ", ".join(f"e.{c}" for c in columns(Execution, ["input", "trace_id", "status", "state", "last_seq",
                                                               "owner", "priority"]))
            # Taken over or resumed executions have node runs; new ones (the usual case)
            # have none: asked here, not in a statement of its own (a round trip per claim).
            + f", EXISTS (SELECT 1 FROM {self._run_table} n WHERE n.{self._qn_execution_id} = e.{qn('id')})"
            # Likewise whether a signal waits (rarely): the claim reads signals only then.
            + f", EXISTS (SELECT 1 FROM {qn(PendingSignal._meta.db_table)} s WHERE s.{qn('execution_id')} = "
            f"e.{qn('id')} AND s.{qn('applied_at')} IS NULL)"
            # The pinned test data of a test run (none for almost every run): a join on its
            # primary key in the same statement, not a query of its own.
            + f", p.{qn('data')}"
            + f" FROM {ex_table} e JOIN {version_table} v ON v.{qn('id')} = e.{qn('version_id')}"
            + f" LEFT JOIN {pins_table} p ON p.{qn('execution_id')} = e.{qn('id')}"
            + f" WHERE e.{qn('id')} IN ({{marks}})"
        )
        self._ex_table, self._qn_id = ex_table, qn("id")

    def load_many(self, execution_ids: list[Any]) -> dict[Any, ExecutionRecord]:
        """One query for the executions with their versions' stored definition text (the
        plan cache is keyed by it: a known version is neither parsed nor re-encoded), then
        the node runs of those that have any."""
        records: dict[Any, ExecutionRecord] = {}
        rows: dict[Any, list[dict[str, Any]]] = {}
        with connection.cursor() as cursor:
            for chunk, marks in in_chunks(execution_ids):
                cursor.execute(self._load_executions.format(marks=marks), chunk)
                resumed = []
                for (ex_id, definition, run_input, trace_id, status, state, last_seq, owner, priority,
                     has_runs, has_signals, pinned) in cursor.fetchall():
                    if has_runs:
                        resumed.append(ex_id)
                    text = definition if isinstance(definition, str) else None  # PostgreSQL hands jsonb decoded
                    records[ex_id] = ExecutionRecord(
                        id=ex_id, definition=None if text is not None else definition, definition_text=text,
                        input=json_value(run_input), trace_id=trace_id, status=status,
                        state=dict(json_value(state) or {}), last_seq=last_seq, node_runs=rows.setdefault(ex_id, []),
                        owner=owner, priority=priority, signals_waiting=bool(has_signals),
                        pinned=json_value(pinned) if pinned is not None else None,
                    )
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
                        SignalRecord(signal_id, type_, reason, json_value(data), sent_by))
        return found


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

