"""Abusing "Run to here" with `reuseFrom` (engine.reuse): what a hostile or careless user
can make a reuse run copy, keep or show. Real engine, real HTTP, as tests/editor/test_reuse.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.models import Execution, ExecutionPins, NodeRun
from tests.editor import test_reuse
from tests.editor.test_reuse import _Counting, create, outputs, post_run
from tests.engine.runs import START, definition, wait_finished, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

api = test_reuse.api  # the fixture: a local server counting the calls it gets


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


@pytest.mark.parametrize("value", [-1, 0, 2**63, 2**64, 1.5, 1e300, "abc", "1", [1], {"id": 1}, False])
def test_a_reuse_from_of_any_other_shape_is_a_json_400(alice_client, value):
    workflow_id = create(alice_client, picks(2))
    response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                 {"runUntil": "t2", "reuseFrom": value}, format="json")
    assert response.status_code == 400, response.content
    assert "reuseFrom" in response.json()["errors"]
    assert not Execution.objects.filter(workflow_id=workflow_id).exists()


def test_the_largest_id_and_null_are_answered_too(alice_client):
    workflow_id = create(alice_client, picks(2))
    response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                 {"runUntil": "t2", "reuseFrom": 2**63 - 1}, format="json")
    assert response.status_code == 404 and "detail" in response.json()
    plain = post_run(alice_client, workflow_id, runUntil="t2", reuseFrom=None)  # null: no reuse
    assert "reused" not in plain
    # A node the version lacks is named, before the run to reuse is even looked at.
    response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                 {"runUntil": "nope", "reuseFrom": 2**63 - 1}, format="json")
    assert response.status_code == 400 and "nope" in response.content.decode()


def test_a_reuse_run_whose_source_was_since_pruned_still_reads_and_retries(alice_client):
    workflow_id = create(alice_client, picks(3))
    whole = post_run(alice_client, workflow_id, input={"q": "one"})
    first = post_run(alice_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=whole["id"])
    Execution.objects.filter(pk=whole["id"]).delete()  # as retention prunes it

    for path in ("", "/node-runs", "/timeline"):
        response = alice_client.get(f"/api/executions/{first['id']}{path}")
        assert response.status_code == 200, (path, response.content)
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{first['id']}/node-runs").json()["results"]}
    assert runs["t1"]["reusedFrom"] == whole["id"]  # what happened, though that run is gone
    detail = alice_client.get(f"/api/executions/{first['id']}/timeline", {"nodeRun": runs["t1"]["id"]})
    assert detail.status_code == 200 and detail.json()["nodeRun"]["reusedFrom"] == whole["id"]
    # The outputs were copied when the run was recorded: a retry needs nothing of the source.
    retried = alice_client.post(f"/api/executions/{first['id']}/retry", {}, format="json")
    assert retried.status_code == 201, retried.content
    again = wait_finished(retried.json()["id"])
    assert again.status == "succeeded" and outputs(again.pk)["t3"] == "one"
    # Reusing the pruned run itself is a 404 and starts nothing.
    before = Execution.objects.count()
    gone = alice_client.post(f"/api/workflows/{workflow_id}/run",
                             {"input": {"q": "one"}, "runUntil": "t3", "reuseFrom": whole["id"]}, format="json")
    assert gone.status_code == 404 and "detail" in gone.json()
    assert Execution.objects.count() == before


def test_a_reuse_of_a_reuse_run_names_the_run_it_copied_from(alice_client):
    # Chains: the outputs a reuse run copied count as its own (they are its node runs').
    workflow_id = create(alice_client, picks(3))
    whole = post_run(alice_client, workflow_id, input={"q": "one"})
    first = post_run(alice_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=whole["id"])
    second = post_run(alice_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=first["id"])
    assert second["reused"] == ["t1", "t2"] and second["reusedFrom"] == first["id"]
    assert outputs(second["id"])["t3"] == "one"


def test_a_source_pruned_while_the_run_request_reads_it_reuses_nothing(alice_client, monkeypatch):
    # Retention (or the workflow's owner) deletes the source between the request finding it
    # and reading its outputs: the run starts without reuse, saying so — never a 500.
    from engine import reuse

    found = reuse.source_execution

    def found_then_pruned(**kwargs: Any) -> Execution:
        source = found(**kwargs)
        Execution.objects.filter(pk=source.pk).delete()
        return source

    monkeypatch.setattr(reuse, "source_execution", found_then_pruned)
    workflow_id = create(alice_client, picks(3))
    whole = post_run(alice_client, workflow_id, input={"q": "one"})
    answer = post_run(alice_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=whole["id"])
    assert answer["reused"] == [] and "reuseNote" in answer
    assert not ExecutionPins.objects.filter(execution_id=answer["id"]).exists()
    assert outputs(answer["id"])["t3"] == "one"


def test_a_node_whose_latest_run_failed_is_not_reused_from_an_older_success(alice_client, api):
    # Run #R: a succeeded, then the run failed further on. `a` is changed (it now fails) and
    # R is redriven on that version: R's a failed. Its older success was another
    # definition's output: reusing it would show a's new definition "succeeding" with it.
    d = definition(
        [START, {"id": "a", "type": "http", "name": "A", "config": {"method": "GET", "url": f"{api}/a"}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "pick", "path": "body"}},
         {"id": "stop", "type": "fail", "name": "Stop", "config": {"message": "stop"}}],
        [("start", "a"), ("a", "b"), ("b", "stop")])
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id)
    assert Execution.objects.get(pk=whole["id"]).status == "failed"
    broken = copy.deepcopy(d)
    broken["nodes"][1]["config"]["url"] = "http://127.0.0.1:1/a"  # nothing listens
    response = alice_client.put(f"/api/workflows/{workflow_id}", {"name": "Reuse", "definition": broken},
                                format="json")
    assert response.status_code == 200, response.content
    redriven = alice_client.post(f"/api/executions/{whole['id']}/redrive", {"version": "latest", "nodes": ["a"]},
                                 format="json")
    assert redriven.status_code == 202, redriven.content
    wait_finished(whole["id"])
    latest_a = NodeRun.objects.filter(execution_id=whole["id"], node_id="a").order_by("-seq").first()
    assert latest_a is not None and latest_a.status == "failed"

    answer = alice_client.post(f"/api/workflows/{workflow_id}/run",
                               {"input": {}, "runUntil": "b", "reuseFrom": whole["id"]}, format="json")
    assert answer.status_code == 201, answer.content
    assert "a" not in answer.json()["reused"] and "b" not in answer.json()["reused"]
    assert wait_finished(answer.json()["id"]).status == "failed"  # a ran, and failed, as it now does


def test_a_row_kept_by_a_redrive_on_a_new_version_is_the_old_versions_output(alice_client, api):
    # Run #R ran a on v1; a is changed in v2 and R is redriven on v2 for its failed node
    # only: R keeps a's v1 row (it now says v2). Reusing it on v2 would hand v1's answer to
    # v2's a: the version a row ran on is the one the redrive history says, not R's latest.
    d = definition(
        [START, {"id": "a", "type": "http", "name": "A", "config": {"method": "GET", "url": f"{api}/a"}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "pick", "path": "body"}},
         {"id": "stop", "type": "fail", "name": "Stop", "config": {"message": "stop"}}],
        [("start", "a"), ("a", "b"), ("b", "stop")])
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id)
    changed = copy.deepcopy(d)
    changed["nodes"][1]["config"]["url"] = f"{api}/a?v=2"
    response = alice_client.put(f"/api/workflows/{workflow_id}", {"name": "Reuse", "definition": changed},
                                format="json")
    assert response.status_code == 200, response.content
    redriven = alice_client.post(f"/api/executions/{whole['id']}/redrive",
                                 {"version": "latest", "nodes": ["stop"]}, format="json")
    assert redriven.status_code == 202, redriven.content
    wait_finished(whole["id"])
    assert _Counting.hits == ["/a"]  # the redrive kept a's v1 row

    answer = post_run(alice_client, workflow_id, runUntil="b", reuseFrom=whole["id"])
    assert "a" not in answer["reused"]
    assert outputs(answer["id"])["b"]["path"] == "/a?v=2"

    # A row recorded on the version the run is now on is reused as usual.
    again = post_run(alice_client, workflow_id)
    reused = post_run(alice_client, workflow_id, runUntil="b", reuseFrom=again["id"])
    assert reused["reused"] == ["a"] and _Counting.hits[-1] == "/a?v=2"


def test_an_approval_granted_in_the_source_is_asked_again_and_nothing_after_it_is_reused(alice_client):
    # The decision of an approval is never an output to copy: the reuse run waits for a new
    # one, and the nodes after the gate (whose outputs came after that decision) run again.
    d = definition(
        [START, {"id": "t1", "type": "transform", "name": "T1", "config": {"operation": "pick", "path": "q"}},
         {"id": "gate", "type": "approval", "name": "Gate", "config": {"message": "Sign off"}},
         {"id": "t2", "type": "transform", "name": "T2", "config": {"operation": "passthrough"}},
         {"id": "t3", "type": "transform", "name": "T3", "config": {"operation": "passthrough"}}],
        [("start", "t1"), ("t1", "gate"), ("gate", "t2"), ("t2", "t3")])
    workflow_id = create(alice_client, d)
    started = alice_client.post(f"/api/workflows/{workflow_id}/run", {"input": {"q": "one"}}, format="json")
    source_id = started.json()["id"]
    wait_status(source_id, {"paused"})
    granted = alice_client.post(f"/api/executions/{source_id}/signal",
                                {"type": "resume", "data": {"approved": True}}, format="json")
    assert granted.status_code == 202, granted.content
    assert wait_finished(source_id).status == "succeeded"

    answer = alice_client.post(f"/api/workflows/{workflow_id}/run",
                               {"input": {"q": "one"}, "runUntil": "t3", "reuseFrom": source_id}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["reused"] == ["t1"]
    run = wait_status(answer.json()["id"], {"paused"})  # asks again
    assert "granted" not in (run.state or {})
    assert not NodeRun.objects.filter(execution_id=run.pk, node_id__in=["t2", "t3"]).exists()
    alice_client.post(f"/api/executions/{run.pk}/signal", {"type": "resume", "data": {"approved": True}},
                      format="json")
    assert wait_finished(run.pk).status == "succeeded"
    pinned = dict(NodeRun.objects.filter(execution_id=run.pk, scope="").values_list("node_id", "pinned"))
    assert pinned["t1"] and not pinned["t2"] and not pinned["gate"]


def test_staff_may_reuse_the_runs_they_may_read_and_strangers_still_may_not(alice_client, bob_client,
                                                                            staff_client):
    # Who may reuse a run is who may read it: staff, who may run alice's workflow and read
    # its runs (and whose runs of it are alice's), got a 404 for every one of them.
    workflow_id = create(alice_client, picks(3))
    whole = post_run(alice_client, workflow_id, input={"q": "one"})
    assert staff_client.get(f"/api/executions/{whole['id']}").status_code == 200
    answer = post_run(staff_client, workflow_id, input={"q": "one"}, runUntil="t3", reuseFrom=whole["id"])
    assert answer["reused"] == ["t1", "t2"] and outputs(answer["id"])["t3"] == "one"
    # Bob: alice's workflow is a 404, and so is his reuse of her run into his own workflow.
    bobs = create(bob_client, picks(3))
    response = bob_client.post(f"/api/workflows/{bobs}/run",
                               {"input": {"q": "one"}, "runUntil": "t3", "reuseFrom": whole["id"]}, format="json")
    assert response.status_code == 404 and not Execution.objects.filter(workflow_id=bobs).exists()
    response = bob_client.post(f"/api/workflows/{workflow_id}/run",
                               {"input": {"q": "one"}, "runUntil": "t3", "reuseFrom": whole["id"]}, format="json")
    assert response.status_code == 404


def test_a_changed_workflow_variable_runs_again_the_nodes_that_may_read_it(alice_client, api):
    # `{{variables.v}}` lives in the definition's settings, not in the node: the node's own
    # definition is the same, yet its request is another one.
    d = chain_with_variable(api, "one")
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id)
    save_definition(alice_client, workflow_id, chain_with_variable(api, "two"))
    answer = post_run(alice_client, workflow_id, runUntil="b", reuseFrom=whole["id"])
    assert answer["reused"] == []
    assert _Counting.hits == ["/a/one", "/a/two"]
    assert outputs(answer["id"])["b"]["path"] == "/a/two"
    # Unchanged variables: reused as before.
    again = post_run(alice_client, workflow_id, runUntil="b", reuseFrom=answer["id"])
    assert again["reused"] == ["a"] and _Counting.hits == ["/a/one", "/a/two"]


def chain_with_variable(url: str, value: str) -> dict[str, Any]:
    d = definition(
        [START, {"id": "a", "type": "http", "name": "A", "config": {"method": "GET", "url": url + "/a/{{variables.v}}"}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "pick", "path": "body"}}],
        [("start", "a"), ("a", "b")])
    d["settings"] = {**(d.get("settings") or {}), "variables": {"v": value}}
    return d


def save_definition(client: Any, workflow_id: int, d: dict[str, Any]) -> None:
    response = client.put(f"/api/workflows/{workflow_id}", {"name": "Reuse", "definition": d}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.django_db(transaction=False)
def test_deciding_what_a_big_workflow_reuses_is_not_quadratic():
    # Every reuse request compares each node before the stop in two definitions: scanning
    # the whole definition for each node took ~45 s of CPU for a 10,000-node chain.
    import time

    from engine.reuse import reusable_nodes

    n = 10_000
    nodes = [START, *({"id": f"t{i}", "type": "transform", "name": f"T{i}", "config": {"operation": "passthrough"}}
                      for i in range(n))]
    d = definition(nodes, [("start", "t0"), *((f"t{i}", f"t{i + 1}") for i in range(n - 1))])
    began = time.monotonic()
    reused = reusable_nodes(before=d, now=d, run_until=f"t{n - 1}", outputs=[f"t{i}" for i in range(n)])
    assert len(reused) == n - 1
    assert time.monotonic() - began < 20  # generous: ~3 s here, a shared 2-core machine
