"""The execution API (SPEC §7) as a client sees it: run, inspect, events, signals, retry,
timeline, node types, and executions of other users being invisible.

Tests marked `transaction=True` let the in-process engine (its own threads) run the
execution for real; the others only see the rows the API writes, because the engine is
woken on commit and a plain `django_db` test never commits.
"""

from __future__ import annotations

import copy
import re
from itertools import pairwise
from typing import Any

import pytest
from rest_framework.test import APIClient

from editor.models import Workflow, WorkflowVersion
from engine.models import Event, Execution

TRACE_ID = re.compile(r"^trace-[0-9a-f]{6}$")
EXECUTION_FIELDS = {
    "id", "workflow", "version", "status", "priority", "input", "output", "error", "traceId",
    "createdAt", "startedAt", "finishedAt", "nodeRuns",
}
SIGNAL_ANSWER_FIELDS = {
    "id", "workflow", "workflowName", "version", "status", "priority", "traceId", "createdAt", "startedAt",
    "finishedAt", "nodeRunCounts",
}
NODE_RUN_FIELDS = {
    "id", "nodeId", "name", "type", "status", "attempt", "iteration", "branchId", "branchName",
    "traceId", "queuedAt", "startedAt", "finishedAt", "input", "output", "error",
}


def node(node_id: str, type_: str, x: int, config: dict[str, Any] | None = None, name: str = "") -> dict[str, Any]:
    return {
        "id": node_id, "type": type_, "name": name or node_id.title(),
        "position": {"x": x, "y": 0}, "config": config or {},
    }


def chain(*nodes: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A definition whose nodes run one after another."""
    edges = [
        {"id": f"e{i}", "source": a["id"], "target": b["id"]} for i, (a, b) in enumerate(pairwise(nodes), 1)
    ]
    return {"schemaVersion": 1, "name": "t", "settings": settings or {}, "nodes": list(nodes), "edges": edges}


def approval_definition(value: str = "v1") -> dict[str, Any]:
    return chain(
        node("start", "start", 0),
        node("approve", "approval", 250, {"message": "Sign off"}),
        node("done", "output", 500, {"value": value}, name="Done"),
    )


def run(client: APIClient, workflow: Workflow, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/workflows/{workflow.pk}/run", body if body is not None else {"input": {}}, format="json")


# --- node types ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_node_types_lists_every_registered_type_with_its_schema(alice_client: APIClient) -> None:
    from engine.nodes import REGISTRY

    response = alice_client.get("/api/node-types/")
    assert response.status_code == 200
    types = response.json()
    assert sorted(t["type"] for t in types) == sorted(REGISTRY)
    for spec_type in ("start", "transform", "merge", "condition", "loop", "delay", "approval", "log", "set",
                      "output", "fail"):
        assert spec_type in REGISTRY
    for info in types:
        assert {"type", "title", "category", "schema", "defaults", "ports"} <= set(info)
        assert info["schema"]["type"] == "object"
        # The common keys of SPEC §3 are part of every type's schema.
        assert {"timeout", "retry", "onError"} <= set(info["schema"]["properties"])
    assert types[0]["type"] == "start"
    condition = next(t for t in types if t["type"] == "condition")
    assert {"true", "false"} <= set(condition["ports"]["outputs"])
    # Types of one category sit together.
    categories = [t["category"] for t in types]
    assert categories == sorted(categories, key=categories.index)


# --- run ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_queues_an_execution_pinned_to_the_current_version(
    alice_client: APIClient, make_workflow: Any, alice: Any
) -> None:
    workflow = make_workflow()
    response = run(alice_client, workflow, {"input": {"who": "world"}, "priority": 5})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"id", "status", "traceId"}
    assert body["status"] == "queued"
    assert TRACE_ID.match(body["traceId"])
    execution = Execution.objects.get(pk=body["id"])
    assert (execution.version.number, execution.priority, execution.input) == (1, 5, {"who": "world"})
    assert execution.owner == alice


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [{"input": [1, 2]}, {"input": "text"}, {"priority": "high"}, {"priority": 1.5}, {"priority": True}, [1]],
)
def test_run_with_wrong_types_is_400(alice_client: APIClient, make_workflow: Any, payload: Any) -> None:
    response = run(alice_client, make_workflow(), payload)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_run_without_body_uses_empty_input(alice_client: APIClient, make_workflow: Any) -> None:
    response = alice_client.post(f"/api/workflows/{make_workflow().pk}/run/")
    assert response.status_code == 201, response.content
    assert Execution.objects.get().input == {}


@pytest.mark.django_db
def test_run_of_a_version_that_no_longer_validates_is_400(alice_client: APIClient, alice: Any) -> None:
    # Saved before a node type changed: the run refuses it with the node named.
    definition = chain(node("start", "start", 0), node("gone", "retired-type", 250))
    workflow = Workflow.objects.create(owner=alice, name="old", definition=definition, version=1)
    WorkflowVersion.objects.create(workflow=workflow, number=1, definition=definition)
    response = run(alice_client, workflow)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert any(e.get("nodeId") == "gone" for e in body["errors"]), body


@pytest.mark.django_db
def test_full_queue_is_429(alice_client: APIClient, make_workflow: Any) -> None:
    definition = approval_definition()
    definition["settings"] = {"queue": {"maxSize": 1, "maxConcurrentRuns": 1}}
    workflow = make_workflow(definition=definition)
    assert run(alice_client, workflow).status_code == 201
    response = run(alice_client, workflow)
    assert response.status_code == 429
    assert "queue" in response.json()["detail"].lower()
    assert Execution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_succeeds_and_reports_node_runs(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    workflow = make_workflow()
    started = run(alice_client, workflow, {"input": {"who": "world"}}).json()
    body = wait_for_execution(alice_client, started["id"])
    assert body["status"] == "succeeded", body
    assert EXECUTION_FIELDS <= set(body)
    assert body["workflow"] == workflow.pk
    assert body["workflowName"] == "Greeting"
    assert body["version"] == 1
    assert body["traceId"] == started["traceId"]
    assert body["input"] == {"who": "world"}
    assert body["output"] == {"Done": "world"}
    assert body["startedAt"] and body["finishedAt"]
    runs = body["nodeRuns"]
    assert [r["nodeId"] for r in runs] == ["start", "greet", "done"]
    for r in runs:
        assert NODE_RUN_FIELDS <= set(r)
        assert r["status"] == "succeeded"
        assert r["branchId"] == "main"
        assert r["traceId"].startswith(started["traceId"])


@pytest.mark.django_db(transaction=True)
def test_a_run_is_pinned_to_its_version_while_the_workflow_is_edited(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    workflow = make_workflow(definition=approval_definition("from v1"))
    execution_id = run(alice_client, workflow).json()["id"]
    wait_for_execution(alice_client, execution_id, {"paused"})

    edited = approval_definition("from v2")
    response = alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": edited}, format="json")
    assert response.json()["version"] == 2

    response = alice_client.post(
        f"/api/executions/{execution_id}/signal", {"type": "resume", "data": {"approved": True}}, format="json"
    )
    assert response.status_code == 202, response.content
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "succeeded", body
    assert body["version"] == 1
    assert body["output"] == {"Done": "from v1"}
    approve = next(r for r in body["nodeRuns"] if r["nodeId"] == "approve")
    assert approve["output"] == {"approved": True}

    # A new run takes the new version.
    second = run(alice_client, workflow).json()["id"]
    assert Execution.objects.get(pk=second).version.number == 2


# --- reading executions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_execution_list_filters_and_ordering(
    alice_client: APIClient, make_workflow: Any
) -> None:
    first, second = make_workflow(name="one"), make_workflow(name="two")
    a = run(alice_client, first).json()["id"]
    b = run(alice_client, second).json()["id"]
    c = run(alice_client, first).json()["id"]
    Execution.objects.filter(pk=a).update(status="failed")

    listed = alice_client.get("/api/executions").json()
    assert [e["id"] for e in listed] == [c, b, a]
    assert "nodeRuns" not in listed[0]
    assert listed[0]["workflowName"] == "one"
    assert [e["id"] for e in alice_client.get(f"/api/executions/?workflow={first.pk}").json()] == [c, a]
    assert [e["id"] for e in alice_client.get("/api/executions?status=failed").json()] == [a]
    both = alice_client.get("/api/executions?status=failed,queued").json()
    assert {e["id"] for e in both} == {a, b, c}


@pytest.mark.django_db
def test_execution_list_pages_back_through_every_run(
    alice_client: APIClient, bob_client: APIClient, make_workflow: Any
) -> None:
    """The list shows the newest 200; `limit` and `before` (the id of the last row shown)
    page back through the rest, in the same order, with nothing repeated or skipped, even
    for runs created in the same instant. Before, `limit` was ignored and anything older
    than the newest 200 could not be listed at all."""
    from django.utils import timezone

    workflow = make_workflow(name="many")
    ids = [run(alice_client, workflow).json()["id"] for _ in range(7)]
    same = timezone.now()
    Execution.objects.filter(pk__in=ids[2:5]).update(created_at=same)  # a tie: ordered by id
    Execution.objects.filter(pk__in=ids[5:]).update(created_at=same + timezone.timedelta(seconds=1))
    Execution.objects.filter(pk__in=ids[:2]).update(created_at=same - timezone.timedelta(seconds=1))
    newest_first = [e["id"] for e in alice_client.get("/api/executions").json()]
    assert newest_first == [ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]

    pages, before = [], None
    for _ in range(5):  # three pages are expected; bounded in case the paging never ends
        query = "/api/executions?limit=3" + (f"&before={before}" if before else "")
        page = [e["id"] for e in alice_client.get(query).json()]
        pages.append(page)
        if len(page) < 3:
            break
        before = page[-1]
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    # Filters apply on every page.
    assert [e["id"] for e in alice_client.get(f"/api/executions?workflow={workflow.pk}&before={ids[3]}&limit=2").json()] \
        == [ids[2], ids[1]]
    # Another user's execution id is no mark: 404, like a missing one; bad values are 400.
    assert bob_client.get(f"/api/executions?before={ids[3]}").status_code == 404
    assert alice_client.get("/api/executions?before=99999999").status_code == 404
    for bad in ("limit=0", "limit=201", "limit=x", "before=0", "before=abc"):
        response = alice_client.get(f"/api/executions?{bad}")
        assert response.status_code == 400 and isinstance(response.json()["detail"], str), bad


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["status=exploded", "workflow=abc", "workflow=-1"])
def test_execution_list_bad_filters_are_400(alice_client: APIClient, query: str) -> None:
    response = alice_client.get(f"/api/executions?{query}")
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


@pytest.mark.django_db
def test_execution_detail_shape_without_engine(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    execution_id = run(alice_client, workflow, {"input": {"who": "x"}}).json()["id"]
    body = alice_client.get(f"/api/executions/{execution_id}/").json()
    assert EXECUTION_FIELDS <= set(body)
    assert (body["status"], body["workflow"], body["version"], body["nodeRuns"]) == ("queued", workflow.pk, 1, [])


@pytest.mark.django_db
def test_events_after_seq_and_limit(alice_client: APIClient, make_workflow: Any) -> None:
    from django.utils import timezone

    execution_id = run(alice_client, make_workflow()).json()["id"]
    execution = Execution.objects.get(pk=execution_id)
    start = execution.last_seq
    for seq in range(start + 1, start + 6):
        Event.objects.create(execution=execution, seq=seq, type="log", ts=timezone.now(), data={"n": seq})
    events = alice_client.get(f"/api/executions/{execution_id}/events").json()
    assert [e["seq"] for e in events] == list(range(1, start + 6))
    assert {"seq", "type", "ts", "executionId", "nodeId", "traceId", "data"} <= set(events[0])
    later = alice_client.get(f"/api/executions/{execution_id}/events/?afterSeq={start + 2}&limit=2").json()
    assert [e["seq"] for e in later] == [start + 3, start + 4]
    for bad in ("afterSeq=x", "afterSeq=-1", "limit=0", "limit=abc"):
        response = alice_client.get(f"/api/executions/{execution_id}/events?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["detail"]


# --- signals and retry -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_a_queued_execution_then_signals_no_longer_apply(
    alice_client: APIClient, make_workflow: Any
) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    url = f"/api/executions/{execution_id}/signal"
    response = alice_client.post(url, {"type": "cancel", "reason": "changed my mind"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "cancelled"
    # A small summary of the new state, not the whole execution (issue 12).
    assert SIGNAL_ANSWER_FIELDS == set(response.json())
    response = alice_client.post(url, {"type": "cancel"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"]


@pytest.mark.django_db
def test_pause_of_a_queued_execution_is_409(alice_client: APIClient, make_workflow: Any) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    response = alice_client.post(f"/api/executions/{execution_id}/signal", {"type": "resume"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,status",
    [
        ({"type": "teleport"}, 400),
        ({}, 400),
        ({"type": ""}, 400),
        ({"type": ["pause"]}, 400),
        ({"type": "pause", "reason": {"a": 1}}, 400),
    ],
)
def test_bad_signals_are_400(alice_client: APIClient, make_workflow: Any, payload: dict, status: int) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    response = alice_client.post(f"/api/executions/{execution_id}/signal", payload, format="json")
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_pause_resume_with_data_and_signal_events(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    definition = chain(
        node("start", "start", 0),
        node("wait", "delay", 250, {"duration": 1500}),
        node("done", "output", 500, {"value": "{{signal}}"}, name="Done"),
    )
    workflow = make_workflow(definition=definition)
    execution_id = run(alice_client, workflow).json()["id"]
    wait_for_execution(alice_client, execution_id, {"running"})
    url = f"/api/executions/{execution_id}/signal"

    response = alice_client.post(url, {"type": "pause", "reason": "Awaiting approval"}, format="json")
    assert response.status_code == 202, response.content
    assert wait_for_execution(alice_client, execution_id, {"paused"})["status"] == "paused"

    response = alice_client.post(
        url, {"type": "resume", "data": {"approved": True, "approver": "user@example.com"}}, format="json"
    )
    assert response.status_code == 202, response.content
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "succeeded", body
    assert body["output"] == {"Done": {"approved": True, "approver": "user@example.com"}}

    events = alice_client.get(f"/api/executions/{execution_id}/events").json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["data"].get("type") for e in events if e["type"] == "signal"] == ["pause", "resume"]


@pytest.mark.django_db(transaction=True)
def test_cancel_a_running_execution(alice_client: APIClient, make_workflow: Any, wait_for_execution: Any) -> None:
    workflow = make_workflow(definition=approval_definition())
    execution_id = run(alice_client, workflow).json()["id"]
    wait_for_execution(alice_client, execution_id, {"paused"})
    response = alice_client.post(
        f"/api/executions/{execution_id}/signal", {"type": "cancel", "reason": "User requested cancellation"},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert wait_for_execution(alice_client, execution_id)["status"] == "cancelled"


@pytest.mark.django_db
def test_retry_starts_a_new_execution_of_the_same_version_and_input(
    alice_client: APIClient, make_workflow: Any
) -> None:
    workflow = make_workflow()
    first = run(alice_client, workflow, {"input": {"who": "again"}, "priority": 3}).json()
    edited = copy.deepcopy(workflow.definition)
    edited["nodes"][2]["config"]["value"] = "edited"
    alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": edited}, format="json")

    response = alice_client.post(f"/api/executions/{first['id']}/retry/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != first["id"]
    assert body["traceId"] != first["traceId"]
    assert (body["version"], body["input"], body["priority"]) == (1, {"who": "again"}, 3)


@pytest.mark.django_db(transaction=True)
def test_timeline_is_served(alice_client: APIClient, make_workflow: Any, wait_for_execution: Any) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    wait_for_execution(alice_client, execution_id)
    response = alice_client.get(f"/api/executions/{execution_id}/timeline")
    assert response.status_code == 200, response.content
    assert "nodeRunId" in response.content.decode()


# --- other users and staff ------------------------------------------------------------------------


@pytest.mark.django_db
def test_other_users_executions_are_404_everywhere(
    alice_client: APIClient, bob_client: APIClient, make_workflow: Any
) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    for method, path, data in [
        ("get", f"/api/executions/{execution_id}", None),
        ("get", f"/api/executions/{execution_id}/events", None),
        ("get", f"/api/executions/{execution_id}/node-runs", None),
        ("get", f"/api/executions/{execution_id}/timeline", None),
        ("post", f"/api/executions/{execution_id}/signal", {"type": "cancel"}),
        ("post", f"/api/executions/{execution_id}/retry", None),
    ]:
        response = getattr(bob_client, method)(path, data, format="json")
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["detail"]
    assert bob_client.get("/api/executions").json() == []
    assert Execution.objects.get(pk=execution_id).status == "queued"


@pytest.mark.django_db
def test_staff_see_every_execution(
    alice_client: APIClient, staff_client: APIClient, make_workflow: Any
) -> None:
    execution_id = run(alice_client, make_workflow()).json()["id"]
    assert [e["id"] for e in staff_client.get("/api/executions").json()] == [execution_id]
    assert staff_client.get(f"/api/executions/{execution_id}").status_code == 200


@pytest.mark.django_db
def test_unknown_execution_is_404(alice_client: APIClient) -> None:
    for method, path in [
        ("get", "/api/executions/987654"),
        ("get", "/api/executions/987654/events"),
        ("get", "/api/executions/987654/node-runs"),
        ("post", "/api/executions/0/signal"),
        ("post", "/api/executions/987654/retry"),
    ]:
        response = getattr(alice_client, method)(path, {"type": "cancel"}, format="json")
        assert response.status_code == 404, path
        assert response.json()["detail"]
