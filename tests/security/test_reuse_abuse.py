"""Abusing "Run to here" with `reuseFrom` (engine.reuse): what a hostile or careless user
can make a reuse run copy, keep or show. Real engine, real HTTP, as tests/editor/test_reuse.py."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Execution, ExecutionPins, NodeRun
from tests.editor.test_reuse import _Counting, api, create, outputs, post_run  # noqa: F401 (api: a fixture)
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def picks(count: int) -> dict[str, Any]:
    """start → t1 (input.q) → t2 … t<count> (passthrough): every transform reusable."""
    nodes = [START, {"id": "t1", "type": "transform", "name": "T1", "config": {"operation": "pick", "path": "q"}}]
    edges = [("start", "t1")]
    for i in range(2, count + 1):
        nodes.append({"id": f"t{i}", "type": "transform", "name": f"T{i}", "config": {"operation": "passthrough"}})
        edges.append((f"t{i - 1}", f"t{i}"))
    return definition(nodes, edges)


def test_a_retry_with_another_input_does_not_keep_outputs_reused_for_the_old_one(alice_client):
    # A reuse run is only made when the input is the source run's; a retry that edits the
    # input must not carry the old input's outputs over (the run would mix two inputs).
    workflow_id = create(alice_client, picks(3))
    whole = post_run(alice_client, workflow_id, input={"q": "one"})
    first = post_run(alice_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=whole["id"])
    assert first["reused"] == ["t1", "t2"]

    retried = alice_client.post(f"/api/executions/{first['id']}/retry", {"input": {"q": "two"}}, format="json")
    assert retried.status_code == 201, retried.content
    again = wait_finished(retried.json()["id"])
    assert again.status == "succeeded"
    assert outputs(again.pk)["t3"] == "two"  # what the new input gives, not run #first's "one"
    runs = alice_client.get(f"/api/executions/{again.pk}/node-runs").json()["results"]
    assert all(r["reusedFrom"] is None for r in runs)
    timeline = alice_client.get(f"/api/executions/{again.pk}/timeline").json()
    assert timeline["reusedFrom"] is None and timeline["reused"] == []

    # The same input keeps them (the retry of a reuse run, as documented).
    same = alice_client.post(f"/api/executions/{first['id']}/retry", {"input": {"q": "one"}}, format="json")
    kept = wait_finished(same.json()["id"])
    assert outputs(kept.pk)["t3"] == "one"
    assert Execution.objects.get(pk=kept.pk).state["reused"]["nodes"] == ["t1", "t2"]


def test_reused_outputs_keep_to_the_stored_pin_bound_of_a_run(alice_client, settings):
    # The pins one execution stores are bounded by FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW ×
    # FLOWMAESTRO_PINNED_DATA_MAX_BYTES (engine.models.ExecutionPins). Reuse copies outputs
    # without running anything: without that bound, a workflow of many big outputs would
    # copy them all into one row on every click, far past what explicit pins may hold.
    big = "x" * 900
    workflow_id = create(alice_client, picks(8))
    whole = post_run(alice_client, workflow_id, input={"q": big})
    settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES = 1000  # each output fits
    settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW = 3  # three of them do, together
    answer = post_run(alice_client, workflow_id, input={"q": big}, runUntil="t8", reuseFrom=whole["id"])
    assert answer["reused"] == ["t1", "t2", "t3"]  # in run order: the rest run again
    stored = ExecutionPins.objects.get(execution_id=answer["id"]).data
    assert sorted(stored) == ["t1", "t2", "t3"]
    assert Execution.objects.get(pk=answer["id"]).status == "succeeded"
    assert outputs(answer["id"])["t8"] == big
    ran = set(NodeRun.objects.filter(execution_id=answer["id"], pinned=False).values_list("node_id", flat=True))
    assert {"t4", "t5", "t6", "t7", "t8"} <= ran


def test_reused_outputs_share_the_bound_with_explicit_pins(alice_client, settings):
    big = "x" * 900
    workflow_id = create(alice_client, picks(6))
    whole = post_run(alice_client, workflow_id, input={"q": big})
    settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES = 1000
    settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW = 3
    pin = alice_client.put(f"/api/workflows/{workflow_id}/pins/t1", {"data": big}, format="json")
    assert pin.status_code == 200, pin.content
    answer = post_run(alice_client, workflow_id, input={"q": big}, runUntil="t6", reuseFrom=whole["id"],
                      usePinnedData=True)
    assert answer["reused"] == ["t2", "t3"]
    assert sorted(ExecutionPins.objects.get(execution_id=answer["id"]).data) == ["t1", "t2", "t3"]
    assert outputs(answer["id"])["t6"] == big


def test_what_follows_a_loop_whose_body_calls_out_runs_again(alice_client, api):
    # The loop runs again (nothing in a body is reused), and its HTTP calls may answer
    # differently: a node after it must not keep the old answers while the loop has new ones.
    d = definition(
        [START, {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": "{{input.items}}"}},
         {"id": "each", "type": "http", "name": "Each", "parentId": "loop",
          "config": {"method": "GET", "url": f"{api}/each"}},
         {"id": "after", "type": "transform", "name": "After", "config": {"operation": "passthrough"}},
         {"id": "final", "type": "transform", "name": "Final", "config": {"operation": "passthrough"}}],
        [("start", "loop"), ("loop", "after"), ("after", "final")])
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id, input={"items": [1, 2]})
    answer = post_run(alice_client, workflow_id, input={"items": [1, 2]}, runUntil="final", reuseFrom=whole["id"])
    assert _Counting.hits == ["/each"] * 4  # the loop ran its body again
    assert "after" not in answer["reused"]
    now = outputs(answer["id"])
    assert now["after"] == now["loop"] and now["final"] == now["loop"]
    assert now["loop"] != outputs(whole["id"])["loop"]  # the server counted on


def test_a_loop_of_pure_steps_leaves_what_follows_reusable(alice_client):
    d = definition(
        [START, {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": "{{input.items}}"}},
         {"id": "each", "type": "set", "name": "Each", "parentId": "loop", "config": {"values": {"k": "v"}}},
         {"id": "after", "type": "transform", "name": "After", "config": {"operation": "passthrough"}},
         {"id": "final", "type": "transform", "name": "Final", "config": {"operation": "passthrough"}}],
        [("start", "loop"), ("loop", "after"), ("after", "final")])
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id, input={"items": [1, 2]})
    answer = post_run(alice_client, workflow_id, input={"items": [1, 2]}, runUntil="final", reuseFrom=whole["id"])
    assert answer["reused"] == ["after"]
    assert outputs(answer["id"])["final"] == outputs(whole["id"])["final"]
