"""The event-log reads of the execution pages stay bounded on a run with 50,000 events: the
timeline's paused intervals and loop item counts, a node run's log lines and a page of
`GET /api/executions/{id}/events` each touch about the rows they answer with, never the
run's whole event log (PostgreSQL: EXPLAIN ANALYZE counts the rows each scan of the table
produced and threw away; SQLite: the statement's virtual-machine instructions are counted).
And on a small real run the timeline answers as the full read of the log did."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from engine import services
from engine.models import Event, Execution, NodeRun
from engine.timeline import node_run_detail, timeline_events
from tests.engine.runs import START, definition, make_workflow, start, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 50_000
EVENT_TABLE = Event._meta.db_table
# SQLite instructions per row a statement may spend at most here: a row found by an index
# and returned with all its columns (a Column each, the seek, the loop). Reading the whole
# event log instead steps over 50,000 rows at no fewer than 3 each (Next, Column, compare):
# far beyond this bound for any page of a few hundred rows.
SQLITE_OPS_PER_ROW = 50


def at(ms: float) -> datetime:
    return datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.get_current_timezone()) + timedelta(milliseconds=ms)


@pytest.fixture
def big_execution(make_workflow: Any, alice: AbstractUser) -> tuple[Execution, NodeRun, NodeRun]:
    """A finished run with a loop node run and a node run with log lines, whose event log has
    50,000 events: mostly node events of other node runs, two pauses among them."""
    workflow = make_workflow(name="Big", definition={
        "schemaVersion": 1, "name": "Big", "settings": {}, "edges": [{"id": "e1", "source": "start", "target": "loop"}],
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "loop", "type": "loop", "name": "Loop", "position": {"x": 0, "y": 0},
                   "config": {"loopType": "forEach", "arrayPath": "{{input.items}}"}},
                  {"id": "body", "type": "log", "name": "Body", "parentId": "loop", "position": {"x": 0, "y": 0},
                   "config": {"message": "x"}}]})
    version = workflow.current_version()
    assert version is not None
    ex = Execution.objects.create(workflow=workflow, version=version, owner=alice, status="succeeded",
                                  trace_id="trace-big", started_at=at(0), finished_at=at(EVENTS),
                                  engine_id="test-no-engine", last_seq=EVENTS)
    loop = NodeRun.objects.create(id=uuid.uuid4().hex, execution=ex, node_id="loop", name="Loop", type="loop",
                                  status="succeeded", attempt=1, queued_at=at(1), started_at=at(1),
                                  finished_at=at(EVENTS - 1), seq=1)
    logged = NodeRun.objects.create(id=uuid.uuid4().hex, execution=ex, node_id="body", name="Body", type="log",
                                    scope="loop#0", iteration=0, status="succeeded", attempt=1, queued_at=at(2),
                                    started_at=at(2), finished_at=at(3), seq=2)
    special: dict[int, dict[str, Any]] = {
        1: {"type": "execution.started"},
        3: {"type": "node.started", "node_id": "loop", "node_run_id": loop.id, "data": {"itemCount": 16_000}},
        10_000: {"type": "execution.paused", "data": {"reason": "lunch"}},
        10_500: {"type": "execution.resumed"},
        20_000: {"type": "signal", "data": {"type": "pause", "reason": "lunch"}},
        30_000: {"type": "execution.paused"},
        30_100: {"type": "execution.resumed"},
        EVENTS: {"type": "execution.succeeded"},
        **{seq: {"type": "log", "node_id": "body", "node_run_id": logged.id, "data": {"message": f"line {seq}"}}
           for seq in (4, 5, 6)},
    }
    kinds = ("node.queued", "node.started", "node.succeeded")
    rows = []
    for seq in range(1, EVENTS + 1):
        fields = special.get(seq) or {"type": kinds[seq % 3], "node_id": "body", "node_run_id": f"r{seq // 3:030d}",
                                      "data": {"output": seq} if seq % 3 == 2 else None}
        rows.append(Event(execution=ex, seq=seq, ts=at(seq), trace_id="trace-big", **fields))
    Event.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner knows the table as it would in production
    return ex, loop, logged


@contextmanager
def event_queries() -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL and parameters, as the driver got them) that read the event table."""
    seen: list[tuple[str, Any]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("SELECT") and EVENT_TABLE in sql:
            seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def rows_touched(sql: str, params: Any) -> float:
    """How many rows of the event table the statement went through, as far as each database
    tells. PostgreSQL: the rows its scans of the table produced or threw away (EXPLAIN
    ANALYZE). SQLite has no such counter: the statement is run again with a progress handler
    that counts the virtual machine's instructions, given here in rows of
    `SQLITE_OPS_PER_ROW` instructions (a whole read of the log would be thousands)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            ops = [0]

            def count() -> int:
                ops[0] += 1
                return 0

            raw = connection.connection
            raw.set_progress_handler(count, 1)
            try:
                cursor.execute(sql, params)
                cursor.fetchall()
            finally:
                raw.set_progress_handler(None, 1)
            return ops[0] / SQLITE_OPS_PER_ROW
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        raw_plan = cursor.fetchone()[0]
    plan = raw_plan if isinstance(raw_plan, list) else json.loads(raw_plan)
    total = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal total
        if node.get("Relation Name") == EVENT_TABLE:
            loops = int(node.get("Actual Loops", 1))
            total += loops * (int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
                              + int(node.get("Rows Removed by Index Recheck", 0)))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total


def assert_bounded(queries: list[tuple[str, Any]], bound: int) -> None:
    assert queries, "no read of the event table was seen"
    for sql, params in queries:
        touched = rows_touched(sql, params)
        assert touched <= bound, (touched, sql)


def test_the_event_reads_of_a_50000_event_run_touch_only_what_they_answer(
        alice_client: APIClient, big_execution: tuple[Execution, NodeRun, NodeRun]) -> None:
    """One run of 50,000 events for the three reads (writing it is what takes time here)."""
    ex, loop, logged = big_execution
    # The timeline: its paused intervals and the loop's item count.
    rows = list(NodeRun.objects.filter(execution=ex).order_by("seq").values(
        "id", "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id", "branch_name",
        "trace_id", "queued_at", "started_at", "finished_at", "seq"))
    with event_queries() as queries:
        paused, item_counts = timeline_events(ex, rows)
    assert paused == [{"from": at(10_000).isoformat(), "to": at(10_500).isoformat()},
                      {"from": at(30_000).isoformat(), "to": at(30_100).isoformat()}]
    assert item_counts == {loop.id: 16_000}
    assert_bounded(queries, 20)  # 5 status events, 1 loop start: not 50,000

    # A node run's log lines (the side panel), read by node run.
    with event_queries() as queries:
        detail = node_run_detail(ex, logged.id)
    assert detail is not None
    assert [line["data"]["message"] for line in detail["logs"]] == ["line 4", "line 5", "line 6"]
    assert_bounded(queries, 20)

    # A page of the event log: a keyset page by seq.
    with event_queries() as queries:
        response = alice_client.get(f"/api/executions/{ex.pk}/events?afterSeq=25000&limit=100")
    assert response.status_code == 200
    assert [e["seq"] for e in response.json()] == list(range(25_001, 25_101))
    assert_bounded(queries, 101)
    # The documented upper bound of a page: 10,000 events; a larger `limit` is a 400.
    response = alice_client.get(f"/api/executions/{ex.pk}/events?afterSeq=0&limit=10000")
    assert len(response.json()) == 10_000
    assert alice_client.get(f"/api/executions/{ex.pk}/events?limit=10001").status_code == 400

    # The page before a seq (still in seq order), and the timeline's signal log: the last
    # signals, pauses and resumes before its lastSeq, in one request through the index
    # (the page used to read back through up to 4,000 events of every kind for them).
    with event_queries() as queries:
        response = alice_client.get(f"/api/executions/{ex.pk}/events?beforeSeq=25001&limit=100")
    assert [e["seq"] for e in response.json()] == list(range(24_901, 25_001))
    assert_bounded(queries, 101)
    with event_queries() as queries:
        response = alice_client.get(
            f"/api/executions/{ex.pk}/events?type=signal,execution.paused,execution.resumed&beforeSeq={EVENTS}&limit=200")
    assert [(e["seq"], e["type"]) for e in response.json()] == [
        (10_000, "execution.paused"), (10_500, "execution.resumed"), (20_000, "signal"),
        (30_000, "execution.paused"), (30_100, "execution.resumed")]
    assert_bounded(queries, 20)
    for bad in ("type=node.started", "type=,", "type=signal&beforeSeq=0", "type=signal&beforeSeq=x"):
        response = alice_client.get(f"/api/executions/{ex.pk}/events?{bad}")
        assert response.status_code == 400 and isinstance(response.json()["detail"], str), bad


def full_read(execution: Execution) -> tuple[list[dict[str, str | None]], dict[str, int]]:
    """What the timeline took from the event log before, read the way it was: every event of
    the run, filtered here."""
    paused: list[dict[str, str | None]] = []
    counts: dict[str, int] = {}
    loops = set(NodeRun.objects.filter(execution=execution, type="loop").values_list("node_id", flat=True))
    for event in Event.objects.filter(execution=execution).order_by("seq"):
        if event.type == "node.started":
            if event.node_id in loops and isinstance(event.data, dict) and isinstance(event.data.get("itemCount"), int):
                counts[event.node_run_id] = event.data["itemCount"]
            continue
        if event.type not in ("execution.paused", "execution.resumed", "execution.succeeded", "execution.failed",
                              "execution.cancelled", "execution.timed_out"):
            continue
        is_open = bool(paused) and paused[-1]["to"] is None
        if event.type == "execution.paused" and not is_open:
            paused.append({"from": event.ts.isoformat(), "to": None})
        elif event.type != "execution.paused" and is_open:
            paused[-1]["to"] = event.ts.isoformat()
    return paused, counts


def test_a_small_real_run_has_the_timeline_the_full_read_gave(alice: AbstractUser, alice_client: APIClient) -> None:
    d = definition([START,
                    {"id": "loop", "type": "loop", "config": {"loopType": "forEach", "arrayPath": "{{input.items}}"}},
                    {"id": "body", "type": "log", "parentId": "loop", "config": {"message": "item {{item}}"}},
                    {"id": "wait", "type": "delay", "config": {"duration": 400}}],
                   [("start", "loop"), ("loop", "wait")])
    ex = start(alice, make_workflow(alice, d), {"items": [1, 2, 3]})
    wait_for(lambda: NodeRun.objects.filter(execution=ex, node_id="wait", status="running").exists(), 15, "wait runs")
    ex.refresh_from_db()
    services.execution_signal(execution=ex, user=alice, type="pause")
    wait_status(ex, {"paused"})
    time.sleep(0.1)
    ex.refresh_from_db()
    services.execution_signal(execution=ex, user=alice, type="resume")
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded"
    body = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()
    paused, counts = full_read(ex)
    assert len(paused) == 1 and paused[0]["to"] is not None
    assert body["summary"]["paused"] == paused
    assert {b["nodeRunId"]: b["itemCount"] for b in body["bars"] if "itemCount" in b} == counts
    assert list(counts.values()) == [3]
    logs = alice_client.get(f"/api/executions/{ex.pk}/timeline?nodeRun="
                            f"{NodeRun.objects.get(execution=ex, node_id='body', iteration=1).id}").json()["logs"]
    assert [line["data"]["message"] for line in logs] == ["item 2"]
