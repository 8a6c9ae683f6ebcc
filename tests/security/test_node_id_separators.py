"""A node id may not hold `/` or `#`: a run names a loop item's node runs by a scope such as
`loop#3/inner#0`, and redrives, dead letters and traces read the loop's id back out of it.

Probed with the real engine: a loop with the id `x/loop` (or `a#1`) whose item 1 failed into
a dead letter was redriven; the redrive re-ran item 1, but read the loop as `loop` (or `a`)
and left that item's dead letter open, offering a replay that would run the item yet again
(a loop named `loop` had its letter settled). A transform `a/b` could not be pinned either
(its pin's address read as another path: "Not found."). Such an id is now an error on its
node when the workflow is saved, and a stored one refuses to run, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from editor.models import Workflow, WorkflowVersion
from engine.models import Execution
from tests.engine.runs import START, definition

pytestmark = pytest.mark.django_db(transaction=True)


def looped(loop_id: str) -> dict[str, Any]:
    return definition([START,
                       {"id": loop_id, "type": "loop", "config": {"arrayPath": "{{input.items}}",
                                                                  "queue": {"deadLetterQueue": True}}},
                       {"id": "body", "type": "transform", "parentId": loop_id, "config": {"expression": "item"}}],
                      [("start", loop_id)])


@pytest.mark.parametrize("loop_id", ["x/loop", "a#1"])
def test_a_node_id_with_a_scope_separator_is_refused_naming_the_node(alice_client: Any, loop_id: str) -> None:
    answer = alice_client.post("/api/workflows", {"name": "Separators", "definition": looped(loop_id)}, format="json")
    assert answer.status_code == 400, answer.content
    [error] = answer.json()["errors"]
    assert error["nodeId"] == loop_id
    assert "cannot hold" in error["message"]
    assert not Workflow.objects.exists()


def test_a_stored_workflow_with_such_an_id_refuses_to_run_naming_it(alice: Any, alice_client: Any) -> None:
    # Saved before the rule (straight into the database, as an older release would have).
    d = looped("x/loop")
    workflow = Workflow.objects.create(owner=alice, name="Old", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=workflow, number=1, definition=d)
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/run", {"input": {"items": [1]}}, format="json")
    assert answer.status_code == 400, answer.content
    assert [e["nodeId"] for e in answer.json()["errors"]] == ["x/loop"]
    assert not Execution.objects.exists()


def test_ids_the_editor_makes_are_still_fine(alice_client: Any) -> None:
    answer = alice_client.post("/api/workflows", {"name": "Fine", "definition": looped("each_order_2")},
                               format="json")
    assert answer.status_code == 201, answer.content
