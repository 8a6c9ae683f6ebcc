"""Re-run with a version and input choice, and finding executions by any trace id
(issue 16): what the timeline's Re-run dialog and the executions list's search call."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from engine.models import Event, Execution
from engine.timeline import paused_intervals


def run(client: APIClient, workflow: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/workflows/{workflow.pk}/run", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_rerun_on_the_latest_version_with_another_input(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    first = run(alice_client, workflow, {"input": {"who": "again"}, "priority": 3})
    edited = copy.deepcopy(workflow.definition)
    edited["nodes"][2]["config"]["value"] = "edited"
    assert alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": edited}, format="json").status_code == 200

    latest = alice_client.post(f"/api/executions/{first['id']}/retry", {"version": "latest", "input": {"who": "v2"}},
                               format="json")
    assert latest.status_code == 201, latest.content
    assert (latest.json()["version"], latest.json()["input"], latest.json()["priority"]) == (2, {"who": "v2"}, 3)

    original = alice_client.post(f"/api/executions/{first['id']}/retry", {"version": "original"}, format="json")
    assert original.status_code == 201, original.content
    assert (original.json()["version"], original.json()["input"]) == (1, {"who": "again"})


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"version": "newest"}, {"input": [1, 2]}, {"input": "text"}])
def test_rerun_refuses_a_bad_choice_with_a_clear_400(alice_client: APIClient, make_workflow: Any, body: Any) -> None:
    first = run(alice_client, make_workflow(), {"input": {}})
    response = alice_client.post(f"/api/executions/{first['id']}/retry", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_rerun_of_someone_elses_execution_is_404(alice_client: APIClient, bob_client: APIClient, make_workflow: Any) -> None:
    first = run(alice_client, make_workflow(), {"input": {}})
    response = bob_client.post(f"/api/executions/{first['id']}/retry", {"version": "latest"}, format="json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_executions_are_found_by_branch_and_item_trace_ids(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    wanted = run(alice_client, workflow, {"input": {}})
    other = run(alice_client, workflow, {"input": {}})
    trace = wanted["traceId"]
    assert trace != other["traceId"]

    def found(query: str) -> list[int]:
        response = alice_client.get("/api/executions", {"trace": query})
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()]

    assert found(trace) == [wanted["id"]]
    assert found(f"{trace}-003") == [wanted["id"]]  # a branch's trace id
    assert found(f"{trace}-002-011") == [wanted["id"]]  # a loop item inside a branch
    assert wanted["id"] in found(trace[:-2])  # the start of one, as typed
    assert found("trace-nothing-like-it") == []
    # Rows carry their version for the list's column.
    assert alice_client.get("/api/executions").json()[0]["version"] == 1


@pytest.mark.django_db
def test_timeline_lists_paused_intervals(alice_client: APIClient, make_workflow: Any) -> None:
    execution = Execution.objects.get(pk=run(alice_client, make_workflow(), {"input": {}})["id"])
    t0 = timezone.now()
    for seq, (kind, offset) in enumerate([("execution.started", 0), ("execution.paused", 1), ("execution.resumed", 3),
                                          ("execution.paused", 5), ("execution.cancelled", 6)], start=2):
        Event.objects.create(execution=execution, seq=seq, type=kind, ts=t0 + timedelta(seconds=offset))
    assert paused_intervals(execution) == [
        {"from": (t0 + timedelta(seconds=1)).isoformat(), "to": (t0 + timedelta(seconds=3)).isoformat()},
        # Cancelled while paused: the interval ends there.
        {"from": (t0 + timedelta(seconds=5)).isoformat(), "to": (t0 + timedelta(seconds=6)).isoformat()},
    ]
    body = alice_client.get(f"/api/executions/{execution.pk}/timeline").json()
    assert len(body["summary"]["paused"]) == 2
