"""A redrive on a version where the loop of a failed (or chosen) item moved, or is no longer
a loop (real engine, through the API client, as tests/engine/test_nested_loop_dead_letters.py).

The redrive names the failed item by its loop and its outer items ("outer#2/inner#2"). On a
latest version whose `inner` is a top-level loop, sits in a renamed outer loop, or is a
transform, that name matched nothing: the loops that remained ran every one of their items
again ("Redrive failed (1 item)" ran 9 cells; with HTTP nodes, 9 calls) and the item's dead
letter was marked redriven though its work never ran. Such a redrive is now a 400 naming
the loop, nothing runs, and the letter stays open. A loop the version no longer has at all
is left behind as before (tests/security/test_trigger_and_redrive_abuse.py)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.engine.runs import wait_finished
from tests.engine.test_nested_loop_dead_letters import FIXED, failed_run, nested
from tests.security.test_dead_letter_replay_moved_loop import _inner_not_a_loop, _top_level_inner

pytestmark = pytest.mark.django_db(transaction=True)


def _outer_renamed() -> dict[str, Any]:
    """The fixed workflow with its outer loop's id changed: `inner` now sits in `rows`."""
    d = nested(FIXED)
    rename = {"outer": "rows"}
    for node in d["nodes"]:
        node["id"] = rename.get(node["id"], node["id"])
        if "parentId" in node:
            node["parentId"] = rename.get(node["parentId"], node["parentId"])
    for edge in d["edges"]:
        edge["source"], edge["target"] = rename.get(edge["source"], edge["source"]), rename.get(edge["target"], edge["target"])
    return d


@pytest.mark.parametrize(("latest", "where"), [
    (_top_level_inner, "at the top level, not inside outer"),
    (_outer_renamed, "inside rows, not inside outer"),
    (_inner_not_a_loop, "a transform, not a loop"),
])
@pytest.mark.parametrize("choice", [{}, {"nodes": ["inner"]}])
def test_a_redrive_on_a_version_where_the_failed_items_loop_moved_is_a_400_and_runs_nothing(
        alice_client, latest, where, choice):
    workflow_id, execution_id = failed_run(alice_client)
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": latest()}, format="json")
    assert saved.status_code == 200, saved.content
    runs = NodeRun.objects.filter(execution_id=execution_id).count()

    answer = alice_client.post(f"/api/executions/{execution_id}/redrive", {"version": "latest", **choice},
                               format="json")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["detail"].startswith("node inner: ") and where in body["detail"], body
    assert "outer#2/inner#2" in body["detail"]
    assert body["errors"][0]["nodeId"] == "inner"
    execution = Execution.objects.get(pk=execution_id)
    assert (execution.status, execution.redrives, execution.version.number) == ("failed", 0, 1)
    assert NodeRun.objects.filter(execution_id=execution_id).count() == runs  # not every item again
    letter = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()[0]
    assert (letter["state"], letter["replayedExecution"]) == ("open", None)


def test_a_chosen_item_of_a_loop_that_moved_is_a_400_too_and_the_original_version_still_redrives(alice_client):
    workflow_id, execution_id = failed_run(alice_client)
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": _top_level_inner()}, format="json")
    assert saved.status_code == 200, saved.content
    # Item 2 of `inner` was named in every outer item; the top-level `inner` of v3 has none of them.
    answer = alice_client.post(f"/api/executions/{execution_id}/redrive",
                               {"version": "latest", "items": {"inner": [2]}}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"][0]["nodeId"] == "inner"

    # On the version it ran (v2 is the fixed one it was not run on: v1 fails the same cell again).
    original = alice_client.post(f"/api/executions/{execution_id}/redrive", {}, format="json")
    assert original.status_code == 202, original.content
    assert wait_finished(execution_id).status == "failed"
    assert NodeRun.objects.filter(execution_id=execution_id, node_id="cell").count() == 10  # 9, and the one again


def test_a_version_that_only_adds_around_the_loop_still_redrives_the_one_item(alice_client):
    # The check looks at the loops the item ran in, not at the rest of the version.
    workflow_id, execution_id = failed_run(alice_client)
    d = nested(FIXED)
    d["nodes"].append({"id": "note", "type": "log", "config": {"message": "after"}})
    d["edges"].append({"id": "e-note", "source": "outer", "target": "note"})
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": d}, format="json")
    assert saved.status_code == 200, saved.content
    answer = alice_client.post(f"/api/executions/{execution_id}/redrive", {"version": "latest"}, format="json")
    assert answer.status_code == 202, answer.content
    assert wait_finished(execution_id).status == "succeeded"
    assert NodeRun.objects.filter(execution_id=execution_id, node_id="cell").count() == 10


def test_a_redrive_on_a_version_without_the_loop_leaves_its_dead_letter_open(alice_client):
    # The loops are gone: the redrive runs what the version has (the output), and the dead
    # item runs nowhere. Its letter said "redriven in #N" all the same, and the failed
    # item's work was silently dropped from the Dead letters page.
    workflow_id, execution_id = failed_run(alice_client)
    gone = {"schemaVersion": 1, "name": "t", "settings": {}, "edges": [{"id": "e0", "source": "start", "target": "o"}],
            "nodes": [{"config": {}, "id": "start", "type": "start"},
                      {"id": "o", "type": "output", "config": {"value": "{{input}}"}}]}
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": gone}, format="json")
    assert saved.status_code == 200, saved.content
    answer = alice_client.post(f"/api/executions/{execution_id}/redrive", {"version": "latest"}, format="json")
    assert answer.status_code == 202, answer.content
    assert wait_finished(execution_id).status == "succeeded"
    assert NodeRun.objects.filter(execution_id=execution_id, node_id="cell").count() == 9  # none again
    letter = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()[0]
    assert (letter["state"], letter["replayedExecution"]) == ("open", None)
    # And it still replays on the version it came from (v1), which has the loop.
    replay = alice_client.post(f"/api/dead-letters/{letter['id']}/replay", {}, format="json")
    assert replay.status_code == 201, replay.content
    assert wait_finished(replay.json()["id"]).version.number == 1


def test_a_letter_left_open_by_a_redrive_on_latest_replays_the_version_it_came_from(alice_client):
    # A redrive on "latest" moves the run to that version. A dead letter of an earlier
    # attempt that the redrive did not re-run stays open, and its replay on "original" (the
    # version the letter came from, docs/api.md) ran the run's new version instead: here v2,
    # where the failing cell is fixed, so the replay "succeeded" without the v1 code ever
    # running again — or, had v2 lacked the loop, was refused as "version 2 has no node".
    workflow_id, execution_id = failed_run(alice_client)  # v1 fails cell 8; v2 is fixed
    moved = alice_client.post(f"/api/executions/{execution_id}/redrive",
                              {"version": "latest", "items": {"inner": [0]}}, format="json")
    assert moved.status_code == 202, moved.content
    assert wait_finished(execution_id).version.number == 2
    letter = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()
    assert [(d["itemPath"], d["state"]) for d in letter] == [("outer#2/inner#2", "open")]

    replay = alice_client.post(f"/api/dead-letters/{letter[0]['id']}/replay", {}, format="json")
    assert replay.status_code == 201, replay.content
    replayed = wait_finished(replay.json()["id"])
    assert (replayed.version.number, replayed.status) == (1, "failed")
    assert "bad cell 8" in str(replayed.error)
