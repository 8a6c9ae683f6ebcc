""""Run to here" reusing the last run's outputs (`reuseFrom`, engine.reuse), as n8n's
partial execution does. Real engine, real HTTP: a local server counts the calls node `a`
makes, so "a was not called again" is what the server saw."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from engine.models import Event, Execution, NodeRun
from engine.runtime import start_engine
from tests.engine.runs import START, definition, wait_finished
from tests.http_server import QuietHandler, serving

pytestmark = pytest.mark.django_db(transaction=True)


class _Counting(QuietHandler):
    hits: list[str] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).hits.append(self.path)
            n = len(type(self).hits)
        self.send(200, json.dumps({"path": self.path, "n": n}).encode())


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _Counting.hits = []
    monkeypatch.setattr(start_engine().options, "http_allow_private", True)
    with serving(_Counting) as url:
        yield url


def chain(url: str) -> dict[str, Any]:
    """start → http a (counted) → transform b (a's body) → transform c (the call number)."""
    return definition(
        [START, {"id": "a", "type": "http", "name": "A", "config": {"method": "GET", "url": f"{url}/a"}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "pick", "path": "body"}},
         {"id": "c", "type": "transform", "name": "C", "config": {"operation": "pick", "path": "n"}}],
        [("start", "a"), ("a", "b"), ("b", "c")])


def create(client: Any, d: dict[str, Any]) -> int:
    response = client.post("/api/workflows", {"name": "Reuse", "definition": d}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def save(client: Any, workflow_id: int, d: dict[str, Any]) -> None:
    response = client.put(f"/api/workflows/{workflow_id}", {"name": "Reuse", "definition": d}, format="json")
    assert response.status_code == 200, response.content


def post_run(client: Any, workflow_id: int, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/workflows/{workflow_id}/run", {"input": {}, **body}, format="json")
    assert response.status_code == 201, response.content
    answer: dict[str, Any] = response.json()
    wait_finished(answer["id"])
    return answer


def outputs(execution_id: int) -> dict[str, Any]:
    return {r.node_id: r.output for r in NodeRun.objects.filter(execution_id=execution_id, scope="", status="succeeded")}


def test_run_to_here_reuses_the_last_runs_outputs_instead_of_calling_again(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    assert _Counting.hits == ["/a"]
    assert outputs(whole["id"])["c"] == 1

    again = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert again["reused"] == ["a", "b"] and again["reusedFrom"] == whole["id"]
    assert _Counting.hits == ["/a"]  # the server was not called a second time
    ex = Execution.objects.get(pk=again["id"])
    assert ex.status == "succeeded"
    assert outputs(again["id"])["b"] == {"path": "/a", "n": 1} and outputs(again["id"])["c"] == 1

    # The API, the timeline and the live events name the run the outputs came from.
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{again['id']}/node-runs").json()["results"]}
    assert runs["a"]["reusedFrom"] == whole["id"] and runs["a"]["pinned"] is True
    assert runs["c"]["reusedFrom"] is None and runs["c"]["pinned"] is False
    assert runs["a"]["reusedFromDeleted"] is False
    timeline = alice_client.get(f"/api/executions/{again['id']}/timeline").json()
    bars = {b["nodeId"]: b for b in timeline["bars"]}
    assert bars["b"]["reusedFrom"] == whole["id"] and bars["c"]["reusedFrom"] is None
    assert timeline["reusedFrom"] == whole["id"] and timeline["reused"] == ["a", "b"]
    assert timeline["reusedFromDeleted"] is False
    started = Event.objects.filter(execution_id=again["id"], type="node.started", node_id="a").first()
    assert started is not None and started.data == {"pinned": True, "reusedFrom": whole["id"]}

    # Without reuseFrom, Run to here calls again, as before.
    post_run(alice_client, workflow_id, runUntil="c")
    assert _Counting.hits == ["/a", "/a"]

    # The source run deleted since (by hand or by retention): the timeline says so, and still
    # names which run the outputs came from.
    Execution.objects.filter(pk=whole["id"]).delete()
    timeline = alice_client.get(f"/api/executions/{again['id']}/timeline").json()
    assert timeline["reusedFrom"] == whole["id"] and timeline["reusedFromDeleted"] is True
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{again['id']}/node-runs").json()["results"]}
    assert runs["a"]["reusedFromDeleted"] is True and runs["c"]["reusedFromDeleted"] is False
    detail = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{again['id']}").json()["nodeRuns"]}
    assert detail["a"]["reusedFrom"] == whole["id"] and detail["a"]["reusedFromDeleted"] is True


def test_a_changed_node_runs_again_and_so_does_what_follows_it(alice_client, api):
    d = chain(api)
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id)

    only_c = copy.deepcopy(d)
    only_c["nodes"][3]["config"]["path"] = "path"
    only_c["nodes"][3]["position"] = {"x": 500, "y": 40}
    save(alice_client, workflow_id, only_c)
    answer = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert answer["reused"] == ["a", "b"] and _Counting.hits == ["/a"]
    assert outputs(answer["id"])["c"] == "/a"

    changed_a = copy.deepcopy(only_c)
    changed_a["nodes"][1]["config"]["url"] = f"{api}/a?v=2"
    save(alice_client, workflow_id, changed_a)
    answer = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert answer["reused"] == [] and "reuseNote" in answer
    assert _Counting.hits == ["/a", "/a?v=2"]
    assert outputs(answer["id"])["b"] == {"path": "/a?v=2", "n": 2}


def test_a_different_input_reuses_nothing_and_says_so(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    answer = post_run(alice_client, workflow_id, input={"x": 1}, runUntil="c", reuseFrom=whole["id"])
    assert answer["reused"] == [] and "input differs" in answer["reuseNote"]
    assert _Counting.hits == ["/a", "/a"]


def test_explicit_pins_win_over_reused_outputs(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    pin = {"status": 200, "headers": {}, "body": {"path": "/pinned", "n": 7}}
    assert alice_client.put(f"/api/workflows/{workflow_id}/pins/a", {"data": pin}, format="json").status_code == 200
    answer = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"], usePinnedData=True)
    assert "a" not in answer["reused"] and _Counting.hits == ["/a"]
    assert outputs(answer["id"])["c"] == 7  # the pin's data, not the reused run's
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{answer['id']}/node-runs").json()["results"]}
    assert runs["a"]["pinned"] is True and runs["a"]["reusedFrom"] is None


def test_an_output_over_the_pin_bound_runs_again(alice_client, api, settings):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES = 40  # a's response is bigger; b's body is not
    answer = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert answer["reused"] == [] and _Counting.hits == ["/a", "/a"]
    assert Execution.objects.get(pk=answer["id"]).status == "succeeded"


def test_a_retry_of_a_reuse_run_keeps_the_reused_outputs(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    first = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    retried = alice_client.post(f"/api/executions/{first['id']}/retry", {}, format="json")
    assert retried.status_code == 201, retried.content
    again = wait_finished(retried.json()["id"])
    assert again.status == "succeeded" and _Counting.hits == ["/a"]
    assert outputs(again.pk)["c"] == 1
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{again.pk}/node-runs").json()["results"]}
    assert runs["a"]["reusedFrom"] == whole["id"]


def test_a_node_inside_a_loop_is_not_reused(alice_client, api):
    d = definition(
        [START, {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": "{{input.items}}"}},
         {"id": "each", "type": "http", "name": "Each", "parentId": "loop",
          "config": {"method": "GET", "url": f"{api}/each"}},
         {"id": "after", "type": "transform", "name": "After", "config": {"operation": "passthrough"}}],
        [("start", "loop"), ("loop", "after")])
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id, input={"items": [1, 2]})
    assert _Counting.hits == ["/each", "/each"]
    answer = post_run(alice_client, workflow_id, input={"items": [1, 2]}, runUntil="after", reuseFrom=whole["id"])
    assert "each" not in answer["reused"] and "loop" not in answer["reused"]
    assert _Counting.hits == ["/each"] * 4  # the loop ran its body again


def test_reuse_from_a_run_still_going_is_a_409(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    Execution.objects.filter(pk=whole["id"]).update(status="running")
    response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                 {"runUntil": "c", "reuseFrom": whole["id"]}, format="json")
    assert response.status_code == 409 and response["Content-Type"].startswith("application/json")
    assert "running" in response.json()["detail"]
    Execution.objects.filter(pk=whole["id"]).update(status="succeeded")


def test_another_users_or_an_unknown_run_is_a_404(alice_client, bob_client, api):
    workflow_id = create(alice_client, chain(api))
    bobs_workflow = create(bob_client, chain(api))
    bobs = post_run(bob_client, bobs_workflow)
    other_workflow = post_run(alice_client, create(alice_client, chain(api)))
    for execution_id in (bobs["id"], other_workflow["id"], 987654):
        response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                     {"runUntil": "c", "reuseFrom": execution_id}, format="json")
        assert response.status_code == 404, response.content
        assert "detail" in response.json()
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 0


@pytest.mark.parametrize(("body", "why"), [
    ({"reuseFrom": 1}, "only with runUntil"),
    ({"runUntil": "c", "reuseFrom": "1"}, "JSON number"),
    ({"runUntil": "c", "reuseFrom": True}, "JSON number"),
    ({"runUntil": "c", "reuseFrom": 0}, ""),
])
def test_a_bad_reuse_from_is_a_400_naming_the_field(alice_client, api, body, why):
    workflow_id = create(alice_client, chain(api))
    response = alice_client.post(f"/api/workflows/{workflow_id}/run", body, format="json")
    assert response.status_code == 400, response.content
    assert "reuseFrom" in response.json()["errors"] and why in json.dumps(response.json())


def test_a_redrive_of_a_reuse_run_uses_the_same_outputs(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    first = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    redriven = alice_client.post(f"/api/executions/{first['id']}/redrive", {"nodes": ["a"]}, format="json")
    assert redriven.status_code == 202, redriven.content
    ex = wait_finished(first["id"])
    assert ex.status == "succeeded" and ex.redrives == 1
    assert _Counting.hits == ["/a"]  # a ran again from the kept outputs, not by calling
    latest = NodeRun.objects.filter(execution_id=first["id"], node_id="a").order_by("-seq").first()
    assert latest is not None and latest.seq > 3 and latest.pinned
    runs = [r for r in alice_client.get(f"/api/executions/{first['id']}/node-runs").json()["results"]
            if r["nodeId"] == "a"]
    assert len(runs) == 2 and all(r["reusedFrom"] == whole["id"] for r in runs)


# `POST /api/workflows/{id}/reuse-preview`: what a "Run to here" reusing an earlier run would
# reuse, asked before it runs (the Run dialog shows it). It answers what the run then does, on
# the canvas's definition when one is sent, and runs nothing.


def preview(client: Any, workflow_id: int, **body: Any) -> Any:
    return client.post(f"/api/workflows/{workflow_id}/reuse-preview", {"input": {}, **body}, format="json")


def test_the_preview_names_what_the_run_then_reuses_and_runs_nothing(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    runs_before = Execution.objects.count()

    answer = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"reused": ["a", "b"], "reusedFrom": whole["id"], "reuseNote": None}
    assert Execution.objects.count() == runs_before and _Counting.hits == ["/a"]  # nothing ran

    ran = post_run(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert ran["reused"] == answer.json()["reused"]


def test_the_canvas_definition_counts_before_it_is_saved(alice_client, api):
    d = chain(api)
    workflow_id = create(alice_client, d)
    whole = post_run(alice_client, workflow_id)
    edited = copy.deepcopy(d)
    edited["nodes"][2]["config"]["path"] = "path"  # b changed on the canvas, not saved
    answer = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"], definition=edited)
    assert answer.status_code == 200, answer.content
    assert answer.json()["reused"] == ["a"]  # b changed: it runs, and c after it
    moved = copy.deepcopy(d)
    moved["nodes"][1]["position"] = {"x": 999, "y": 999}  # where a node sits is no change
    assert preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"],
                   definition=moved).json()["reused"] == ["a", "b"]


def test_another_input_or_a_pin_changes_the_answer(alice_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    answer = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"], input={"x": 1}).json()
    assert answer["reused"] == [] and "input differs" in answer["reuseNote"]

    pin = {"status": 200, "headers": {}, "body": {"path": "/pinned", "n": 7}}
    assert alice_client.put(f"/api/workflows/{workflow_id}/pins/a", {"data": pin}, format="json").status_code == 200
    with_pins = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"], usePinnedData=True).json()
    assert with_pins["reused"] == []  # a's pin wins, and b follows a pin that run never saw
    assert preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"]).json()["reused"] == ["a", "b"]


def test_refusals_are_the_runs(alice_client, bob_client, api):
    workflow_id = create(alice_client, chain(api))
    whole = post_run(alice_client, workflow_id)
    bobs = post_run(bob_client, create(bob_client, chain(api)))

    for execution_id in (bobs["id"], 987654):
        response = preview(alice_client, workflow_id, runUntil="c", reuseFrom=execution_id)
        assert response.status_code == 404 and "detail" in response.json()
    assert preview(bob_client, workflow_id, runUntil="c", reuseFrom=whole["id"]).status_code == 404  # not his workflow

    Execution.objects.filter(pk=whole["id"]).update(status="running")
    response = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"])
    assert response.status_code == 409 and "running" in response.json()["detail"]
    Execution.objects.filter(pk=whole["id"]).update(status="succeeded")

    response = preview(alice_client, workflow_id, runUntil="nope", reuseFrom=whole["id"])
    assert response.status_code == 400 and response.json()["errors"][0]["nodeId"] == "nope"
    response = preview(alice_client, workflow_id, reuseFrom=whole["id"])
    assert response.status_code == 400 and "runUntil" in response.json()["errors"]
    response = preview(alice_client, workflow_id, runUntil="c")
    assert response.status_code == 400 and "reuseFrom" in response.json()["errors"]
    broken = chain(api)
    broken["edges"].append({"id": "e-loop", "source": "c", "target": "a"})
    response = preview(alice_client, workflow_id, runUntil="c", reuseFrom=whole["id"], definition=broken)
    assert response.status_code == 400 and response.json()["errors"], response.content
