"""Items per loop (FLOWMAESTRO_LOOP_MAX_ITEMS) and node runs per execution
(FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS), on the real engine.

Found by the attacker pass: a loop over a huge array (built by a transform, or an HTTP
answer) started node runs without limit, each item holding a result slot in memory and
writing rows, and nested loops multiply rows without any one loop being long; retention
was the only bound on the disk they take. Now a loop with more items than its bound fails
before any item starts, and an execution that would record more node runs than its bound
fails, each with a message naming the bound; other users' runs go on.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from engine.models import Execution, NodeRun
from tests.engine.runs import START, definition, loop_definition, start_run, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

BODY = [{"id": "tag", "type": "output", "name": "tag", "config": {"value": "{{item}}"}}]


@pytest.fixture
def bounded(settings: Any) -> None:
    settings.FLOWMAESTRO_LOOP_MAX_ITEMS = 100
    settings.FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS = 150


def test_a_loop_with_more_items_than_the_bound_fails_before_any_item_starts(bounded: None, alice: User, bob: User):
    hostile = start_run(alice, loop_definition({}, BODY), {"items": list(range(101))})
    other = start_run(bob, loop_definition({}, BODY), {"items": list(range(100))})  # at the bound: runs
    failed, fine = wait_finished(hostile.pk), wait_finished(other.pk)
    assert failed.status == "failed"
    loop = NodeRun.objects.get(execution_id=failed.pk, node_id="loop")
    assert loop.status == "failed"
    message = loop.error["message"]
    assert "'loop'" in message and "101 items" in message and "FLOWMAESTRO_LOOP_MAX_ITEMS" in message, message
    assert "FLOWMAESTRO_LOOP_MAX_ITEMS" in str(failed.error), failed.error
    assert not NodeRun.objects.filter(execution_id=failed.pk, node_id="tag").exists()
    assert fine.status == "succeeded", fine.error
    assert NodeRun.objects.filter(execution_id=fine.pk, node_id="tag", status="succeeded").count() == 100


def test_nested_loops_stop_at_the_executions_node_run_bound(bounded: None, alice: User, bob: User):
    # 10 outer items × 20 inner ones: no loop past its bound, 230 node runs in all.
    nested = definition([
        START,
        {"id": "outer", "type": "loop", "name": "Outer", "config": {"arrayPath": "{{input.items}}", "maxConcurrency": 2}},
        {"id": "inner", "type": "loop", "name": "Inner", "parentId": "outer", "config": {"arrayPath": "{{start.inner}}"}},
        {"id": "tag", "type": "output", "name": "tag", "parentId": "inner", "config": {"value": "{{item}}"}},
    ], [("start", "outer")])
    hostile = start_run(alice, nested, {"items": list(range(10)), "inner": list(range(20))})
    other = start_run(bob, loop_definition({}, BODY), {"items": list(range(50))})
    failed, fine = wait_finished(hostile.pk), wait_finished(other.pk)
    assert failed.status == "failed"
    message = str(failed.error["message"])
    assert "150 node runs" in message and "FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS" in message, message
    assert "internal error" not in message
    assert NodeRun.objects.filter(execution_id=failed.pk).count() <= 150
    # Ended as a whole: nothing of it is left queued or running.
    assert not NodeRun.objects.filter(execution_id=failed.pk, status__in=("queued", "running", "retrying")).exists()
    assert fine.status == "succeeded", fine.error
    assert Execution.objects.get(pk=fine.pk).output is not None


def test_a_run_taken_over_at_the_bound_fails_with_the_bounds_message(settings: Any, alice: User):
    """The engine that takes a run over counts on from the stored node runs: a run waiting at
    an approval when its engine stopped, with the bound reached, fails with the bound's
    message (naming the setting and the node that would have been next), not as an
    internal error, when the new engine would record its approval's next attempt."""
    from engine.runtime import start_engine, stop_engine
    from tests.engine.runs import status_of, wait_for

    settings.FLOWMAESTRO_LOOP_MAX_ITEMS = 1000
    settings.FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS = 1000
    d = definition([
        START,
        {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": "{{input.items}}"}},
        {"id": "tag", "type": "output", "name": "tag", "parentId": "loop", "config": {"value": "{{item}}"}},
        {"id": "approve", "type": "approval", "name": "Approve", "config": {"timeout": 60000, "onTimeout": "reject"}},
    ], [("start", "loop"), ("loop", "approve")])
    ex = start_run(alice, d, {"items": list(range(97))})
    wait_for(lambda: status_of(ex.pk) == "paused", 20, "waiting at the approval")
    recorded = NodeRun.objects.filter(execution_id=ex.pk).count()  # start, loop, 97 items, approve
    stop_engine(0.1)  # releases the paused run: the next engine takes it over
    settings.FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS = recorded
    start_engine()
    failed = wait_finished(ex.pk)
    assert failed.status == "failed"
    message = str(failed.error["message"])
    assert f"{recorded} node runs" in message and "FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS" in message, message
    assert "'approve'" in message and "internal error" not in message
    # Ended as a whole: the interrupted approval is cancelled, nothing left waiting.
    assert not NodeRun.objects.filter(execution_id=ex.pk, status__in=("queued", "running", "retrying")).exists()
