"""Dead letters of a loop inside a loop's body, through the HTTP API with the real engine.

Loop items are named like `outer#2/inner#2`: inner item 2 of outer item 2. A dead letter
of an inner item used to keep only the inner loop's id and index, so it could not say
which outer item it came from, and its replay ran that inner index in *every* outer item
(with the dead item's data each time). Now it names the whole item (`itemPath`), its
replay runs that one item of that one outer item, and a redrive of its run re-runs just
that item and settles just that letter."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = "if (cell === 8) { throw new Error('bad cell ' + cell) } return cell * 10"
FIXED = "return cell * 10"
# Inner item 2 of every outer item: cells 2, 5 and 8; only outer item 2's fails.
ROWS = {"rows": [[0, 1, 2], [3, 4, 5], [6, 7, 8]]}


def nested(expression: str) -> dict[str, Any]:
    """start → outer loop over input.rows → inner loop over the row (dead letters kept) → cell."""
    return definition([
        START,
        {"id": "outer", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "row"}},
        {"id": "inner", "type": "loop", "parentId": "outer",
         "config": {"arrayPath": "{{row}}", "itemVariable": "cell", "queue": {"deadLetterQueue": True}}},
        {"id": "cell", "type": "transform", "parentId": "inner",
         "config": {"operation": "custom", "expression": expression}},
        {"id": "o", "type": "output", "config": {"value": "{{outer}}"}}],
        [("start", "outer"), ("outer", "o")])


def cells(execution_id: int) -> dict[str, list[Any]]:
    """{item scope: [input of each run of `cell` there]}."""
    ran: dict[str, list[Any]] = {}
    for r in NodeRun.objects.filter(execution_id=execution_id, node_id="cell").order_by("seq"):
        ran.setdefault(r.scope, []).append(r.input)
    return ran


def failed_run(client: Any) -> tuple[int, int]:
    """A workflow (FLAKY) and its failed run; the latest version is then FIXED."""
    created = client.post("/api/workflows", {"name": "Grid", "definition": nested(FLAKY)}, format="json")
    assert created.status_code == 201, created.content
    workflow_id = created.json()["id"]
    started = client.post(f"/api/workflows/{workflow_id}/run", {"input": ROWS}, format="json")
    assert started.status_code == 201, started.content
    execution = wait_finished(started.json()["id"])
    assert execution.status == "failed"
    fixed = client.patch(f"/api/workflows/{workflow_id}", {"definition": nested(FIXED)}, format="json")
    assert fixed.status_code == 200, fixed.content
    return workflow_id, execution.pk


def test_an_inner_items_dead_letter_names_its_outer_item_and_replays_only_that_item(alice_client):
    workflow_id, execution_id = failed_run(alice_client)
    letters = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()
    assert [(d["kind"], d["nodeId"], d["itemIndex"], d["itemPath"], d["input"]) for d in letters] == [
        ("item", "inner", 2, "outer#2/inner#2", 8)]
    assert "bad cell 8" in str(letters[0]["error"])

    replay = alice_client.post(f"/api/dead-letters/{letters[0]['id']}/replay", {"version": "latest"}, format="json")
    assert replay.status_code == 201, replay.content
    replayed = wait_finished(replay.json()["id"])
    assert replayed.status == "succeeded", replayed.error
    # That one item, with its own data: not inner item 2 of outer items 0 and 1 (cells 2 and 5).
    assert cells(replayed.pk) == {"outer#2/inner#2": [8]}
    detail = alice_client.get(f"/api/dead-letters/{letters[0]['id']}").json()
    assert (detail["state"], detail["replayedExecution"]) == ("replayed", replayed.pk)


def test_a_redrive_re_runs_only_that_inner_item_of_that_outer_item(alice_client):
    workflow_id, execution_id = failed_run(alice_client)
    before = cells(execution_id)
    assert before["outer#2/inner#2"] == [8] and len(before) == 9
    redriven = alice_client.post(f"/api/executions/{execution_id}/redrive", {"version": "latest"}, format="json")
    assert redriven.status_code == 202, redriven.content
    done = wait_finished(execution_id)
    assert done.status == "succeeded", done.error
    assert done.output == {"o": [[0, 10, 20], [30, 40, 50], [60, 70, 80]]}
    after = cells(execution_id)
    assert after.pop("outer#2/inner#2") == [8, 8]
    assert after == {scope: runs for scope, runs in before.items() if scope != "outer#2/inner#2"}
    letter = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()
    assert [(d["itemPath"], d["state"], d["replayedExecution"]) for d in letter] == [
        ("outer#2/inner#2", "replayed", execution_id)]
    assert Execution.objects.get(pk=execution_id).redrives == 1
