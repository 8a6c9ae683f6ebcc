"""A workflow deleted while another request of its owner uses it (a second tab, a careless
double click): the request answers 404 or 409 in JSON, never a 500, and leaves nothing
behind that names the deleted workflow.

Probed on both databases with the delete's transaction held open a moment: pinning a node
(the pin's foreign key), starting a run with or without pinned data, retrying a run (the
execution's foreign key) were 500s from an IntegrityError; saving the workflow, restoring a
version and replaying a dead letter were 500s from a DoesNotExist (the row read again was
gone). A redrive already answered 409, as the API's reads of what is gone answer 404."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from editor.models import PinnedOutput, Workflow, WorkflowVersion
from engine.models import DeadLetter, Execution
from tests.engine.runs import START, definition, wait_finished
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = definition([START, {"id": "t", "type": "transform", "config": {"expression": "1"}},
                         {"id": "boom", "type": "fail", "config": {"message": "down"}}],
                        [("start", "t"), ("t", "boom")], queue={"deadLetterQueue": True})

REQUESTS: dict[str, Callable[[Any, dict[str, int]], Any]] = {
    "pin a node": lambda c, ids: c.put(f"/api/workflows/{ids['w']}/pins/t", {"data": 2}, format="json"),
    "run": lambda c, ids: c.post(f"/api/workflows/{ids['w']}/run", {"input": {}}, format="json"),
    "run with pinned data": lambda c, ids: c.post(f"/api/workflows/{ids['w']}/run",
                                                  {"input": {}, "usePinnedData": True}, format="json"),
    "retry": lambda c, ids: c.post(f"/api/executions/{ids['ex']}/retry", {}, format="json"),
    "redrive": lambda c, ids: c.post(f"/api/executions/{ids['ex']}/redrive", {}, format="json"),
    "replay a dead letter": lambda c, ids: c.post(f"/api/dead-letters/{ids['letter']}/replay", {}, format="json"),
    "save": lambda c, ids: c.put(f"/api/workflows/{ids['w']}", {"name": "Q", "definition": DEFINITION},
                                 format="json"),
    "restore a version": lambda c, ids: c.post(f"/api/workflows/{ids['w']}/versions/1/restore"),
}


@pytest.mark.parametrize("what", list(REQUESTS))
def test_a_request_meeting_its_workflows_deletion_is_a_json_404_or_409(alice_client: Any, what: str) -> None:
    created = alice_client.post("/api/workflows", {"name": "P", "definition": DEFINITION}, format="json")
    assert created.status_code == 201, created.content
    workflow_id = created.json()["id"]
    assert alice_client.put(f"/api/workflows/{workflow_id}/pins/t", {"data": 1}, format="json").status_code == 200
    failed = wait_finished(alice_client.post(f"/api/workflows/{workflow_id}/run", {"input": {}},
                                             format="json").json()["id"])
    ids = {"w": workflow_id, "ex": failed.pk, "letter": DeadLetter.objects.get(execution_id=failed.pk).pk}
    deleting = threading.Event()

    def delete_held_open() -> None:
        # What DELETE /api/workflows/{id} does, its commit a second late (a busy database).
        with transaction.atomic():
            Execution.objects.filter(workflow_id=workflow_id).delete()
            Workflow.objects.filter(pk=workflow_id).delete()
            deleting.set()
            time.sleep(1.0)

    delete = db_thread(delete_held_open)
    delete.start()
    assert deleting.wait(10)
    answer = REQUESTS[what](alice_client, ids)
    delete.join(10)

    assert answer.status_code in (404, 409), answer.content
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["detail"]
    assert not Workflow.objects.filter(pk=workflow_id).exists()
    assert not PinnedOutput.objects.exists() and not Execution.objects.exists()
    assert not WorkflowVersion.objects.exists()
