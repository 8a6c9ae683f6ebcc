"""The run endpoint's hot path (issue 7: `manage.py bench runs`). A run request costs a
fixed handful of statements whatever the queue holds, still answers 201/400/404 as SPEC §7
says, and every run starts at once: a burst of requests wakes the engine without losing a
run to the next poll. alice owns, bob must see nothing, sam is staff."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from editor.models import WorkflowVersion
from engine.models import Event, Execution
from engine.runtime import stop_engine

FINISHED = {"succeeded", "failed", "cancelled", "timed_out"}


def run_url(workflow_id: Any) -> str:
    return f"/api/workflows/{workflow_id}/run"


@pytest.mark.django_db
def test_a_run_request_is_two_reads_and_two_inserts_and_answers_spec_body(alice_client, make_workflow):
    wf = make_workflow()
    alice_client.post(run_url(wf.id), {"input": {}}, format="json")  # warm caches (content types, …)
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.post(run_url(wf.id), {"input": {"who": "ada"}, "priority": 3}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "status", "traceId"}
    assert body["status"] == "queued"
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # token (with its user), the workflow's current version with the workflow (one join);
    # then the execution and its first event. No write other than those two inserts: on
    # PostgreSQL one statement (a data-modifying WITH, atomic by itself: no BEGIN/COMMIT
    # round trips either).
    assert statements.count("SELECT") == 2, queries.captured_queries
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "SELECT", "WITH"], queries.captured_queries
        write = queries.captured_queries[-1]["sql"]
        assert "INSERT INTO \"engine_execution\"" in write and "INSERT INTO \"engine_event\"" in write
    else:
        assert statements.count("INSERT") == 2, queries.captured_queries
    assert "UPDATE" not in statements, queries.captured_queries
    execution = Execution.objects.get(id=body["id"])
    assert execution.trace_id == body["traceId"]
    assert (execution.status, execution.priority, execution.input) == ("queued", 3, {"who": "ada"})
    assert execution.version == wf.current_version()  # pinned to the version it started with
    assert execution.owner_id == wf.owner_id
    assert execution.last_seq == 1
    event = Event.objects.get(execution=execution)
    assert (event.seq, event.type, event.status, event.trace_id) == (1, "execution.queued", "queued", body["traceId"])


@pytest.mark.django_db
def test_a_run_request_still_answers_404_and_400_where_it_did(alice_client, bob_client, staff_client, make_workflow):
    wf = make_workflow()
    assert bob_client.post(run_url(wf.id), {"input": {}}, format="json").status_code == 404  # not bob's
    assert alice_client.post(run_url(wf.id + 1000), {"input": {}}, format="json").status_code == 404
    assert alice_client.post(run_url(2**70), {"input": {}}, format="json").status_code == 404
    bad = alice_client.post(run_url(wf.id), {"input": "not an object"}, format="json")
    assert bad.status_code == 400
    assert "input" in str(bad.json())
    assert staff_client.post(run_url(wf.id), {"input": {}}, format="json").status_code == 201  # staff see all
    # Bad input on someone else's workflow is a 404, not a 400: ids do not leak.
    assert bob_client.post(run_url(wf.id), {"input": "x"}, format="json").status_code == 404
    Execution.objects.all().delete()
    WorkflowVersion.objects.filter(workflow=wf).delete()
    no_version = alice_client.post(run_url(wf.id), {"input": {}}, format="json")
    assert no_version.status_code == 400
    assert "no saved version" in str(no_version.json())


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_run_requests_all_start_at_once_without_waiting_for_a_poll(
    alice, client_for, make_workflow, settings
):
    """Eight clients post runs as fast as they can. The engine polls only every 30 s here,
    so a run whose wake-up got lost would still be queued when the test gives up."""
    stop_engine(1)
    settings.FLOWMAESTRO_POLL_INTERVAL = 30.0
    wf = make_workflow()
    ids: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_thread(n: int) -> None:
        client: APIClient = client_for(alice)
        try:
            for i in range(n):
                response = client.post(run_url(wf.id), {"input": {"who": f"w{i}"}}, format="json")
                with lock:
                    if response.status_code == 201:
                        ids.append(response.json()["id"])
                    else:
                        errors.append(f"{response.status_code} {response.content!r}")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=client_thread, args=(10,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(ids) == 80
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = dict(Execution.objects.filter(id__in=ids).values_list("id", "status"))
        if all(s in FINISHED for s in statuses.values()):
            break
        time.sleep(0.05)
    assert sorted(statuses.values()) == ["succeeded"] * 80, {s for s in statuses.values()}
    # Each finished with its own input as its output: no run was mixed up with another.
    runs = list(Execution.objects.filter(id__in=ids))
    assert {ex.input["who"] for ex in runs} == {f"w{i}" for i in range(10)}
    assert {ex.id: ex.output for ex in runs} == {ex.id: {"Done": ex.input["who"]} for ex in runs}
