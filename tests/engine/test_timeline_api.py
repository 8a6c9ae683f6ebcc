"""`GET /api/executions/{id}/timeline` (SPEC §8): bars per node-run attempt, lanes per
branch (nested) and per loop slot, achieved concurrency and the critical path."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.utils import timezone
from rest_framework.test import APIClient

from editor.models import Workflow
from engine import services
from engine.models import Event, Execution, NodeRun
from tests.engine.definitions import definition, fan_out

pytestmark = pytest.mark.django_db(transaction=True)


def at(ms: float) -> datetime:
    return datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.get_current_timezone()) + timedelta(milliseconds=ms)


def node_run(execution: Execution, node_id: str, start_ms: float, end_ms: float | None, *, seq: int,
             branch: str = "main", branch_name: str = "main", scope: str = "", iteration: int | None = None,
             status: str = "succeeded", attempt: int = 1, type: str = "delay", queued_ms: float | None = None,
             trace: str | None = None) -> NodeRun:
    return NodeRun.objects.create(
        id=uuid.uuid4().hex, execution=execution, node_id=node_id, name=node_id.title(), type=type, scope=scope,
        status=status, attempt=attempt, iteration=iteration, branch_id=branch, branch_name=branch_name,
        trace_id=trace or execution.trace_id, queued_at=at(start_ms if queued_ms is None else queued_ms),
        started_at=at(start_ms), finished_at=at(end_ms) if end_ms is not None else None, seq=seq,
        output={"node": node_id},
    )


@pytest.fixture
def nested_execution(make_workflow: Any, alice: AbstractUser) -> Execution:
    """Rows as the engine writes them: a fan-out whose first branch fans out again, then a
    loop over four items with two in flight, and a node that needed two attempts."""
    definition = {
        "schemaVersion": 1, "name": "Nested", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "a", "type": "delay", "name": "A", "position": {"x": 0, "y": 0}, "config": {"duration": 1}},
            {"id": "a1", "type": "delay", "name": "A1", "position": {"x": 0, "y": 0}, "config": {"duration": 1}},
            {"id": "a2", "type": "delay", "name": "A2", "position": {"x": 0, "y": 0}, "config": {"duration": 1}},
            {"id": "b", "type": "delay", "name": "B", "position": {"x": 0, "y": 0}, "config": {"duration": 1}},
            {"id": "merge", "type": "merge", "name": "Merge", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "loop", "type": "loop", "name": "Loop", "position": {"x": 0, "y": 0},
             "config": {"loopType": "forEach", "arrayPath": "{{input.items}}", "parallel": True, "maxConcurrency": 2}},
            {"id": "body", "type": "delay", "name": "Body", "parentId": "loop", "position": {"x": 0, "y": 0},
             "config": {"duration": 1}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "a"}, {"id": "e2", "source": "start", "target": "b"},
            {"id": "e3", "source": "a", "target": "a1"}, {"id": "e4", "source": "a", "target": "a2"},
            {"id": "e5", "source": "a1", "target": "merge"}, {"id": "e6", "source": "a2", "target": "merge"},
            {"id": "e7", "source": "b", "target": "merge"}, {"id": "e8", "source": "merge", "target": "loop"},
        ],
    }
    workflow: Workflow = make_workflow(name="Nested", definition=definition)
    version = workflow.current_version()
    assert version is not None
    ex = Execution.objects.create(
        workflow=workflow, version=version, owner=alice, status="succeeded", trace_id="trace-abc123",
        started_at=at(0), finished_at=at(1000), engine_id="test-no-engine", last_seq=0,
    )
    t = "trace-abc123"
    node_run(ex, "start", 0, 10, seq=1, type="start")
    node_run(ex, "a", 10, 100, seq=2, branch="1", branch_name="branch_a", trace=f"{t}-001")
    node_run(ex, "b", 10, 200, seq=3, branch="2", branch_name="branch_b", trace=f"{t}-002")
    node_run(ex, "a1", 100, 300, seq=4, branch="1.1", branch_name="branch_a", trace=f"{t}-001-001")
    # a2 failed once, then succeeded on its second attempt: two bars.
    node_run(ex, "a2", 100, 150, seq=5, branch="1.2", branch_name="branch_b", trace=f"{t}-001-002", status="failed")
    node_run(ex, "a2", 250, 500, seq=6, branch="1.2", branch_name="branch_b", trace=f"{t}-001-002", attempt=2,
             queued_ms=200)
    node_run(ex, "merge", 500, 510, seq=7, type="merge")
    node_run(ex, "loop", 510, 1000, seq=8, type="loop")
    for i, (start, end) in enumerate([(510, 700), (510, 600), (600, 1000), (700, 800)]):
        node_run(ex, "body", start, end, seq=9 + i, scope=f"loop#{i}", iteration=i, trace=f"{t}-{i + 1:03d}")
    run = NodeRun.objects.get(execution=ex, node_id="b")
    Event.objects.create(execution=ex, seq=1, type="log", ts=at(50), node_id="b", node_run_id=run.id,
                         trace_id=run.trace_id, status="running", data={"message": "b is working"})
    return ex


def test_bars_lanes_and_summary_of_nested_branches_retries_and_a_loop(alice_client: APIClient,
                                                                       nested_execution: Execution):
    response = alice_client.get(f"/api/executions/{nested_execution.pk}/timeline")
    assert response.status_code == 200, response.content
    body = response.json()
    bars = body["bars"]
    assert len(bars) == 12  # one per node-run attempt
    first = bars[0]
    assert set(first) >= {"nodeRunId", "nodeId", "name", "branchId", "branchName", "traceId", "lane", "queuedAt",
                          "startedAt", "finishedAt", "status", "attempt", "iteration"}
    lane_of = {(b["nodeId"], b["attempt"], b["iteration"]): b["lane"] for b in bars}
    assert lane_of[("start", 1, None)] == "branch:main"
    assert lane_of[("a1", 1, None)] == "branch:1.1"
    # Retries are separate segments of the same lane.
    assert lane_of[("a2", 1, None)] == lane_of[("a2", 2, None)] == "branch:1.2"

    lanes = {lane["id"]: lane for lane in body["lanes"]}
    order = [lane["id"] for lane in body["lanes"]]
    assert order[:5] == ["branch:main", "branch:1", "branch:1.1", "branch:1.2", "branch:2"]
    assert lanes["branch:1.2"]["parent"] == "branch:1" and lanes["branch:1.2"]["depth"] == 2
    assert lanes["branch:2"]["label"] == "branch_b" and lanes["branch:2"]["traceId"] == "trace-abc123-002"

    # Four items, at most two at a time: two slot lanes under the loop group.
    group = lanes["loop:loop"]
    assert group["kind"] == "loop" and group["items"] == 4 and group["slots"] == 2
    assert group["parent"] == "branch:main"
    assert group["counts"] == {"succeeded": 4}
    item_lanes = [lane_of[("body", 1, i)] for i in range(4)]
    assert set(item_lanes) == {"loop:loop:slot:0", "loop:loop:slot:1"}
    assert item_lanes[2] == item_lanes[1]  # item 2 took the slot item 1 freed at 600 ms

    summary = body["summary"]
    assert summary["wallTimeMs"] == 1000
    # start 10 + a 90 + b 190 + a1 200 + a2 50 + 250 + merge 10 + items 190+90+400+100 (the loop
    # container itself is not counted twice).
    assert summary["runTimeMs"] == 1580
    assert summary["achievedConcurrency"] == 1.58
    assert summary["peakConcurrency"] == 3  # b, a1 and a2 between 100 and 150 ms
    assert summary["counts"] == {"succeeded": 11, "failed": 1}
    ids = {(b["nodeId"], b["attempt"], b["iteration"]): b["nodeRunId"] for b in bars}
    assert summary["criticalPath"] == [
        ids[("start", 1, None)], ids[("a", 1, None)], ids[("a2", 1, None)], ids[("a2", 2, None)],
        ids[("merge", 1, None)], ids[("loop", 1, None)], ids[("body", 1, 2)],
    ]
    assert {b["nodeRunId"] for b in bars if b["critical"]} == set(summary["criticalPath"])
    assert body["definition"]["nodes"][0]["id"] == "start"
    assert body["execution"]["traceId"] == "trace-abc123"


def test_node_run_detail_has_output_trace_id_and_logs(alice_client: APIClient, nested_execution: Execution):
    run = NodeRun.objects.get(execution=nested_execution, node_id="b")
    body = alice_client.get(f"/api/executions/{nested_execution.pk}/timeline?nodeRun={run.id}").json()
    assert body["nodeRun"]["output"] == {"node": "b"}
    assert body["nodeRun"]["traceId"] == "trace-abc123-002"
    assert [line["data"]["message"] for line in body["logs"]] == ["b is working"]
    missing = alice_client.get(f"/api/executions/{nested_execution.pk}/timeline?nodeRun=nope")
    assert missing.status_code == 404


def test_a_node_run_id_with_more_after_it_is_not_that_node_run(alice_client: APIClient, nested_execution: Execution):
    # The id was cut to 32 characters, so "<b's id>zz" answered b's output and logs.
    run = NodeRun.objects.get(execution=nested_execution, node_id="b")
    longer = alice_client.get(f"/api/executions/{nested_execution.pk}/timeline?nodeRun={run.id}zz")
    assert longer.status_code == 404, longer.content
    assert longer.json() == {"detail": "No such node run in this execution."}


def test_only_the_owner_and_staff_see_a_timeline(alice_client: APIClient, bob_client: APIClient,
                                                staff_client: APIClient, anon_client: APIClient,
                                                nested_execution: Execution):
    url = f"/api/executions/{nested_execution.pk}/timeline"
    assert bob_client.get(url).status_code == 404
    assert anon_client.get(url).status_code in (401, 403)
    assert staff_client.get(url).status_code == 200
    assert alice_client.get(url + "/").status_code == 200
    assert alice_client.get("/api/executions/99999999/timeline").status_code == 404


def test_a_real_three_branch_fan_out_overlaps_in_three_lanes(make_workflow: Any, alice: AbstractUser,
                                                             alice_client: APIClient, wait_for_execution: Any):
    workflow = make_workflow(name="Fan-out", definition=fan_out(300))
    started = alice_client.post(f"/api/workflows/{workflow.pk}/run", {"input": {}}, format="json")
    assert started.status_code == 201, started.content
    execution_id = started.json()["id"]
    wait_for_execution(alice_client, execution_id)
    body = alice_client.get(f"/api/executions/{execution_id}/timeline").json()
    trace = body["execution"]["traceId"]
    work = sorted((b for b in body["bars"] if b["nodeId"].startswith("work_")), key=lambda b: b["nodeId"])
    assert [b["lane"] for b in work] == ["branch:1", "branch:2", "branch:3"]
    assert [b["branchName"] for b in work] == ["branch_a", "branch_b", "branch_c"]
    assert [b["traceId"] for b in work] == [f"{trace}-001", f"{trace}-002", f"{trace}-003"]
    # The three bars overlap: each starts before the others finish.
    assert max(b["startedAt"] for b in work) < min(b["finishedAt"] for b in work)
    summary = body["summary"]
    assert summary["counts"] == {"succeeded": 5}
    assert summary["achievedConcurrency"] > 1.5
    assert summary["peakConcurrency"] == 3
    critical = [next(b["nodeId"] for b in body["bars"] if b["nodeRunId"] == i) for i in summary["criticalPath"]]
    assert critical[0] == "start" and critical[-1] == "merge" and len(critical) == 3
    lanes = [(lane["id"], lane["depth"]) for lane in body["lanes"]]
    assert lanes == [("branch:main", 0), ("branch:1", 1), ("branch:2", 1), ("branch:3", 1)]
    assert body["lastSeq"] >= 10


def test_a_branch_that_begins_with_a_loop_beside_a_fan_out_has_its_own_trace(make_workflow: Any, alice: AbstractUser,
                                                                           alice_client: APIClient, wait_for_execution: Any):
    # Branch 2 begins with a loop and then fans out: the loop's run has a trace segment of
    # its own (its items are under it), and the branch's lane keeps the branch's trace.
    log = {"type": "log", "config": {"message": "x"}}
    nodes = [{"id": "start", "type": "start"}, {"id": "a", **log},
             {"id": "loop", "type": "loop", "config": {"arrayPath": "{{start.items}}"}},
             {"id": "each", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}},
             {"id": "p", **log}, {"id": "q", **log}]
    edges = [("start", "a"), ("start", "loop"), ("loop", "p"), ("loop", "q")]
    workflow = make_workflow(name="Loop first", definition=definition(nodes, edges, name="Loop first"))
    started = alice_client.post(f"/api/workflows/{workflow.pk}/run", {"input": {"items": [1, 2, 3]}}, format="json")
    assert started.status_code == 201, started.content
    execution_id = started.json()["id"]
    wait_for_execution(alice_client, execution_id)
    body = alice_client.get(f"/api/executions/{execution_id}/timeline").json()
    assert body["execution"]["status"] == "succeeded"
    trace = body["execution"]["traceId"]
    lanes = {lane["id"]: lane for lane in body["lanes"]}
    assert lanes["branch:2"]["traceId"] == f"{trace}-002"
    by_node = {b["nodeId"]: b for b in body["bars"] if b["iteration"] is None}
    assert by_node["loop"]["traceId"] == f"{trace}-002-003"  # after its fan-out's two branches
    assert (by_node["p"]["traceId"], by_node["q"]["traceId"]) == (f"{trace}-002-001", f"{trace}-002-002")
    items = sorted(b["traceId"] for b in body["bars"] if b["nodeId"] == "each")
    assert items == [f"{trace}-002-003-{i:03d}" for i in (1, 2, 3)]


def test_a_running_execution_measures_up_to_now(make_workflow: Any, alice: AbstractUser, alice_client: APIClient,
                                                wait_for_execution: Any):
    workflow = make_workflow(name="Slow", definition=fan_out(1500))
    execution = services.execution_start(workflow=workflow, user=alice, input={})
    wait_for_execution(alice_client, execution.pk, {"running"})
    # Wait until the branches run, then look before they finish.
    import time

    deadline = time.monotonic() + 5
    while NodeRun.objects.filter(execution=execution, status="running").count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    body = alice_client.get(f"/api/executions/{execution.pk}/timeline").json()
    running = [b for b in body["bars"] if b["status"] == "running"]
    assert len(running) == 3 and all(b["finishedAt"] is None for b in running)
    assert body["summary"]["wallTimeMs"] > 0
    assert body["summary"]["finishedAt"] is None
    wait_for_execution(alice_client, execution.pk)
