"""A loop item's dead letter replayed on a version where its loop moved or is no longer a
loop (real engine, real HTTP through the API client, as tests/engine/test_nested_loop_dead_letters.py).

The replay names the dead item by its loop and its outer items ("outer#2/inner#2"). On a
latest version whose `inner` is a top-level loop, that name matched nothing, so the loop ran
every one of its items again (each a node run; with HTTP nodes each a call) instead of the
one dead item, and the letter was marked replayed. Such a replay is now a 400 naming the
node, and the letter stays open."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.engine.runs import START, definition, wait_finished
from tests.engine.test_nested_loop_dead_letters import failed_run

pytestmark = pytest.mark.django_db(transaction=True)


def _top_level_inner() -> dict[str, Any]:
    return definition([
        START,
        {"id": "inner", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "cell"}},
        {"id": "cell", "type": "transform", "parentId": "inner", "config": {"operation": "passthrough"}},
        {"id": "o", "type": "output", "config": {"value": "{{inner}}"}}],
        [("start", "inner"), ("inner", "o")])


def _inner_not_a_loop() -> dict[str, Any]:
    return definition([
        START,
        {"id": "outer", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "row"}},
        {"id": "inner", "type": "transform", "parentId": "outer", "config": {"operation": "passthrough"}},
        {"id": "o", "type": "output", "config": {"value": "{{outer}}"}}],
        [("start", "outer"), ("outer", "o")])


@pytest.mark.parametrize("latest", [_top_level_inner, _inner_not_a_loop])
def test_an_item_replay_on_a_version_where_its_loop_moved_is_a_400_and_runs_nothing(alice_client, latest):
    workflow_id, execution_id = failed_run(alice_client)
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": latest()}, format="json")
    assert saved.status_code == 200, saved.content
    letter = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()[0]
    before = Execution.objects.count()

    answer = alice_client.post(f"/api/dead-letters/{letter['id']}/replay", {"version": "latest"}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    assert "node inner" in answer.json()["detail"]
    assert Execution.objects.count() == before  # no run of every item
    assert alice_client.get(f"/api/dead-letters/{letter['id']}").json()["state"] == "open"

    # The bulk replay says the same for that letter, and the original version still replays it.
    bulk = alice_client.post("/api/dead-letters/replay", {"ids": [letter["id"]], "version": "latest"}, format="json")
    assert bulk.json()["results"][0]["status"] == 400
    original = alice_client.post(f"/api/dead-letters/{letter['id']}/replay", {}, format="json")
    assert original.status_code == 201, original.content
    assert wait_finished(original.json()["id"]).status == "failed"  # FLAKY: the one dead item, once more
    assert NodeRun.objects.filter(execution_id=original.json()["id"], node_id="cell").count() == 1
