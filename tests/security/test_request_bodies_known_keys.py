"""A typo in a request body is a 400 that names it, not a silently ignored key.

Before: `{"priorty": 5}` on a run started it at priority 0 with a 201; `priority` on a
retry (which takes none) was dropped; a signal's `reson` went nowhere. Found by the
attacker pass of 2026-11-30."""

from __future__ import annotations

import pytest

from engine.models import Execution
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def simple() -> dict:
    return definition([START, {"id": "note", "type": "log", "config": {"message": "hi"}}], [("start", "note")])


def test_a_misspelt_key_is_named_with_the_key_it_was_meant_to_be(alice_client):
    workflow = alice_client.post("/api/workflows", {"name": "Typos", "definition": simple()}, format="json").json()

    run = alice_client.post(f"/api/workflows/{workflow['id']}/run", {"input": {}, "priorty": 5}, format="json")
    assert run.status_code == 400, run.content
    assert run.json()["errors"] == {"priorty": ["unknown key — did you mean 'priority'?"]}
    assert not Execution.objects.filter(workflow_id=workflow["id"]).exists()

    done = wait_finished(alice_client.post(f"/api/workflows/{workflow['id']}/run", {"input": {}, "priority": 5},
                                           format="json").json()["id"])
    assert done.priority == 5

    retry = alice_client.post(f"/api/executions/{done.pk}/retry", {"priority": 9}, format="json")
    assert retry.status_code == 400
    assert retry.json()["errors"] == {"priority": ["unknown key (known keys: version, input)"]}

    signal = alice_client.post(f"/api/executions/{done.pk}/signal", {"type": "cancel", "reson": "x"}, format="json")
    assert signal.status_code == 400
    assert signal.json()["errors"] == {"reson": ["unknown key — did you mean 'reason'?"]}

    redrive = alice_client.post(f"/api/executions/{done.pk}/redrive", {"node": ["note"]}, format="json")
    assert redrive.status_code == 400
    assert redrive.json()["errors"] == {"node": ["unknown key — did you mean 'nodes'?"]}

    saved = alice_client.put(f"/api/workflows/{workflow['id']}", {"name": "T", "definiton": simple()}, format="json")
    assert saved.status_code == 400
    assert "definiton" in saved.json()["errors"]
    assert Execution.objects.filter(workflow_id=workflow["id"]).count() == 1


def test_the_bodies_the_editor_sends_are_still_accepted(alice_client):
    workflow = alice_client.post("/api/workflows", {"name": "Ok", "description": "", "definition": simple(),
                                                    "draft": True}, format="json")
    assert workflow.status_code == 201, workflow.content
    wid = workflow.json()["id"]
    assert alice_client.patch(f"/api/workflows/{wid}", {"name": "Renamed"}, format="json").status_code == 200
    done = wait_finished(alice_client.post(f"/api/workflows/{wid}/run", {"input": {"a": 1}, "priority": 0},
                                           format="json").json()["id"])
    assert alice_client.post(f"/api/executions/{done.pk}/retry", {"version": "latest", "input": {"a": 2}},
                             format="json").status_code == 201
