"""The counts a succeeded run keeps of what "Redrive failed (…)" re-runs (`failed_items`,
`failed_nodes`) survive an engine killed mid-run: a loop that had ended replays its items'
failures from the rows, a loop that was running counts them again as its items replay —
each failed item once, never twice — and a branch that had failed is counted from its row."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from editor.models import Workflow, WorkflowVersion
from engine import services
from engine.models import Execution, NodeRun
from tests.engine.definitions import definition
from tests.reliability.test_restart import kill_9_and_restart

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = "if (item % 3 === 1) { throw new Error('boom ' + item) } return item * 2"


def _workflow(owner: User, loop_body_delay: int, after_delay: int) -> Workflow:
    d: dict[str, Any] = definition([
        {"id": "start", "type": "start"},
        {"id": "loop", "type": "loop", "name": "Loop", "config": {
            "arrayPath": "{{input.items}}", "maxConcurrency": 2, "parallel": {"onPartialFailure": "continue"}}},
        {"id": "wait", "type": "delay", "parentId": "loop", "config": {"duration": loop_body_delay}},
        {"id": "double", "type": "transform", "parentId": "loop",
         "config": {"operation": "custom", "expression": FLAKY}},
        {"id": "after", "type": "delay", "config": {"duration": after_delay}},
        {"id": "out", "type": "output", "name": "out", "config": {"value": "{{loop}}"}},
    ], [("start", "loop"), ("wait", "double"), ("loop", "after"), ("after", "out")])
    wf = Workflow.objects.create(owner=owner, name="partial", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    return wf


def _kill_when(settings: Any, wf: Workflow, owner: User, ready: Any) -> Execution:
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    ex = services.execution_start(workflow=wf, user=owner, input={"items": list(range(6))})
    kill_9_and_restart(ex, lambda: ready(ex), timeout=40)
    return ex


def test_a_loop_that_had_ended_keeps_its_failed_items_across_a_restart(settings):
    owner = User.objects.create_user("partial-ended")
    ex = _kill_when(settings, _workflow(owner, 1, 1500), owner,
                    lambda ex: NodeRun.objects.filter(execution=ex, node_id="after", status="running").exists())
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": [0, 4, 6, 10]}
    assert NodeRun.objects.filter(execution=ex, node_id="loop").count() == 1  # replayed, not run again
    assert ex.failed_items == 2


def test_a_loop_cut_by_a_restart_counts_each_failed_item_once(settings):
    owner = User.objects.create_user("partial-running")
    ex = _kill_when(settings, _workflow(owner, 600, 1), owner,
                    lambda ex: NodeRun.objects.filter(execution=ex, node_id="double", scope="loop#1", status="failed").exists())
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": [0, 4, 6, 10]}
    assert NodeRun.objects.filter(execution=ex, node_id="double", scope="loop#1").count() == 1  # replayed
    assert ex.failed_items == 2


def test_a_branch_that_had_failed_is_counted_once_across_a_restart(settings):
    owner = User.objects.create_user("partial-branch")
    d: dict[str, Any] = definition([
        {"id": "start", "type": "start"},
        {"id": "slow", "type": "delay", "config": {"duration": 1500}},
        {"id": "b", "type": "fail", "config": {"message": "b is broken"}},
        {"id": "m", "type": "merge", "config": {"parallel": {"onPartialFailure": "continue"}}},
        {"id": "out", "type": "output", "name": "out", "config": {"value": "{{m}}"}},
    ], [("start", "slow"), ("start", "b"), ("slow", "m"), ("b", "m"), ("m", "out")])
    wf = Workflow.objects.create(owner=owner, name="branch", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    ex = services.execution_start(workflow=wf, user=owner, input={})
    kill_9_and_restart(ex, lambda: NodeRun.objects.filter(execution=ex, node_id="b", status="failed").exists()
                       and NodeRun.objects.filter(execution=ex, node_id="slow", status="running").exists(), timeout=40)
    assert ex.status == "succeeded", ex.error
    assert NodeRun.objects.filter(execution=ex, node_id="b").count() == 1  # replayed, not run again
    assert (ex.failed_nodes, ex.failed_items) == (1, 0)
