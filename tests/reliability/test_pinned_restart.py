"""Pinned test data survives a takeover: the engine running a test run that uses pins is
killed; the one that takes the run over still outputs the pins the run was recorded with
(they are stored with the execution, engine.models.ExecutionPins, not in the engine's memory)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from editor.models import PinnedOutput, Workflow, WorkflowVersion
from editor.pins import pins_in_force
from engine import services
from engine.models import NodeRun
from tests.reliability.test_restart import kill_9_and_restart

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_taken_over_keeps_its_pins(settings):
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    owner = User.objects.create_user("pin-owner")
    d = {
        "schemaVersion": 1, "name": "pinned restart",
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "wait", "type": "delay", "config": {"duration": 1500}},
            {"id": "fetch", "type": "transform",
             "config": {"operation": "custom", "expression": "throw new Error('a pinned node must not run')"}},
            {"id": "out", "type": "output", "name": "out", "config": {"value": "{{fetch.answer}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "wait"}, {"id": "e2", "source": "wait", "target": "fetch"},
                  {"id": "e3", "source": "fetch", "target": "out"}],
    }
    wf = Workflow.objects.create(owner=owner, name="pinned restart", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    PinnedOutput.objects.create(workflow=wf, node_id="fetch", data={"answer": 42})
    ex = services.execution_start(workflow=wf, user=owner, pinned=pins_in_force(workflow=wf, definition=d))
    # Unpinned meanwhile: the run keeps what it was recorded with, across the takeover too.
    PinnedOutput.objects.filter(workflow=wf).delete()
    kill_9_and_restart(ex, lambda: NodeRun.objects.filter(execution=ex, node_id="wait", status="running").exists())
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": 42}
    fetch = NodeRun.objects.get(execution=ex, node_id="fetch")
    assert (fetch.status, fetch.claimed_by, fetch.output) == ("succeeded", "pinned", {"answer": 42})
