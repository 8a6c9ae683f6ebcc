""""Run to here" (`runUntil`, engine.core.run_until): a test run that stops at one node, as
n8n's "execute step" does. Real engine, real HTTP: a local server counts the calls the
`http` nodes make, so "that branch never ran" is what the server saw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.models import NodeRun
from engine.runtime import start_engine
from tests.engine.runs import START, definition, loop_definition, wait_finished
from tests.http_server import CountingURL, counting_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingURL]:
    monkeypatch.setattr(start_engine().options, "http_allow_private", True)
    with counting_server(lambda path: {"path": path}) as url:
        yield url


def call(node_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http", "name": node_id.upper(), "config": {"method": "GET", "url": f"{url}/{node_id}"},
            **extra}


def fan_out(url: str) -> dict[str, Any]:
    """start → a, b, c (each an HTTP call) → merge m → output o."""
    return definition(
        [START, call("a", url), call("b", url), call("c", url),
         {"id": "m", "type": "merge", "name": "M", "config": {"mode": "all"}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
        [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m"), ("m", "o")])


def create(client: Any, d: dict[str, Any]) -> int:
    response = client.post("/api/workflows", {"name": "Run to here", "definition": d}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def run(client: Any, workflow_id: int, **body: Any) -> Any:
    response = client.post(f"/api/workflows/{workflow_id}/run", {"input": {}, **body}, format="json")
    assert response.status_code == 201, response.content
    return wait_finished(response.json()["id"])


def statuses(execution: Any) -> dict[str, str]:
    return {r.node_id: r.status for r in NodeRun.objects.filter(execution=execution, scope="")}


def test_a_run_to_one_branch_runs_that_branch_only(alice_client, api):
    workflow_id = create(alice_client, fan_out(api))
    execution = run(alice_client, workflow_id, runUntil="a")
    assert execution.status == "succeeded"
    assert api.hits == ["/a"]  # b and c were never called
    assert execution.output == {"A": {"status": 200, "headers": execution.output["A"]["headers"], "body": {"path": "/a"}}}
    assert statuses(execution) == {"start": "succeeded", "a": "succeeded", "b": "skipped", "c": "skipped",
                                   "m": "skipped", "o": "skipped"}
    skipped = NodeRun.objects.get(execution=execution, node_id="b")
    assert "Run to here" in skipped.error["message"] and "a" in skipped.error["message"]
    detail = alice_client.get(f"/api/executions/{execution.pk}").json()
    assert detail["output"] == execution.output
    assert alice_client.get(f"/api/executions/{execution.pk}/timeline").json()["runUntil"] == "a"

    whole = run(alice_client, workflow_id)  # without runUntil, the same workflow runs whole
    assert whole.status == "succeeded" and sorted(api.hits) == ["/a", "/a", "/b", "/c"]
    assert alice_client.get(f"/api/executions/{whole.pk}/timeline").json()["runUntil"] is None


def test_a_run_to_a_join_runs_everything_before_it_and_not_after(alice_client, api):
    workflow_id = create(alice_client, fan_out(api))
    execution = run(alice_client, workflow_id, runUntil="m")
    assert execution.status == "succeeded" and sorted(api.hits) == ["/a", "/b", "/c"]
    assert statuses(execution)["o"] == "skipped" and set(execution.output) == {"M"}


def test_a_run_to_a_node_in_a_loop_body_runs_its_loop_whole(alice_client, api):
    d = loop_definition({"maxConcurrency": 2}, [call("each", api)])
    d["nodes"].append(call("after", api))
    d["edges"].append({"id": "e-after", "source": "loop", "target": "after"})
    workflow_id = create(alice_client, d)
    execution = run(alice_client, workflow_id, input={"items": [1, 2, 3]}, runUntil="each")
    assert execution.status == "succeeded"
    assert api.hits == ["/each"] * 3  # the loop ran every item; "after" never ran
    assert statuses(execution) == {"start": "succeeded", "loop": "succeeded", "o": "skipped", "after": "skipped"}
    assert list(execution.output) == ["Loop"] and len(execution.output["Loop"]) == 3


def test_a_retry_of_a_run_to_here_stops_at_the_same_node(alice_client, api):
    workflow_id = create(alice_client, fan_out(api))
    first = run(alice_client, workflow_id, runUntil="b")
    retried = alice_client.post(f"/api/executions/{first.pk}/retry", {}, format="json")
    assert retried.status_code == 201, retried.content
    again = wait_finished(retried.json()["id"])
    assert again.status == "succeeded" and api.hits == ["/b", "/b"]

    # The latest version has no node "b" any more: a re-run on it is refused, naming it,
    # rather than becoming a whole run.
    d = fan_out(api)
    d["nodes"] = [n for n in d["nodes"] if n["id"] != "b"]
    d["edges"] = [e for e in d["edges"] if "b" not in (e["source"], e["target"])]
    assert alice_client.put(f"/api/workflows/{workflow_id}", {"name": "Run to here", "definition": d},
                            format="json").status_code == 200
    refused = alice_client.post(f"/api/executions/{first.pk}/retry", {"version": "latest"}, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"][0]["nodeId"] == "b"


def test_run_to_here_uses_pinned_data_on_the_way(alice_client, api):
    d = definition([START, call("a", api), call("b", api), call("c", api)], [("start", "a"), ("a", "b"), ("b", "c")])
    workflow_id = create(alice_client, d)
    pinned = alice_client.put(f"/api/workflows/{workflow_id}/pins/a", {"data": {"body": {"pinned": True}}}, format="json")
    assert pinned.status_code == 200, pinned.content
    execution = run(alice_client, workflow_id, runUntil="b", usePinnedData=True)
    assert execution.status == "succeeded" and api.hits == ["/b"]  # a pinned, c after the stop
    assert statuses(execution) == {"start": "succeeded", "a": "succeeded", "b": "succeeded", "c": "skipped"}


@pytest.mark.parametrize(("until", "expected"), [
    ("nope", "is not a node"),
    ("alone", "no run reaches"),
])
def test_a_node_no_run_can_stop_at_is_refused_naming_it(alice_client, api, until, expected):
    d = fan_out(api)
    d["nodes"].append({"id": "alone", "type": "log", "name": "Alone", "config": {"message": "x"}})
    workflow_id = create(alice_client, d)
    response = alice_client.post(f"/api/workflows/{workflow_id}/run", {"runUntil": until}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["nodeId"] == until and expected in body["errors"][0]["message"]
    assert api.hits == []


@pytest.mark.parametrize("until", [7, ["a"], {"id": "a"}, "x" * 101, True])
def test_a_run_until_that_is_not_a_node_id_is_a_400(alice_client, api, until):
    workflow_id = create(alice_client, fan_out(api))
    response = alice_client.post(f"/api/workflows/{workflow_id}/run", {"runUntil": until}, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")


def test_another_users_workflow_is_a_404(alice_client, bob_client, api):
    workflow_id = create(alice_client, fan_out(api))
    response = bob_client.post(f"/api/workflows/{workflow_id}/run", {"runUntil": "a"}, format="json")
    assert response.status_code == 404
    assert api.hits == []


def test_a_redrive_of_a_run_to_here_stops_at_the_same_node(alice_client, api):
    def chain(expression: str) -> dict[str, Any]:
        return definition(
            [START, {"id": "t", "type": "transform", "name": "T", "config": {"operation": "custom", "expression": expression}},
             call("after", api)],
            [("start", "t"), ("t", "after")])

    workflow_id = create(alice_client, chain("throw new Error('not yet')"))
    failed = run(alice_client, workflow_id, runUntil="t")
    assert failed.status == "failed"
    fixed = alice_client.put(f"/api/workflows/{workflow_id}", {"name": "Run to here", "definition": chain("return 1")},
                             format="json")
    assert fixed.status_code == 200, fixed.content
    redriven = alice_client.post(f"/api/executions/{failed.pk}/redrive", {"version": "latest"}, format="json")
    assert redriven.status_code in (200, 201, 202), redriven.content
    execution = wait_finished(failed.pk)
    assert execution.status == "succeeded" and execution.output == {"T": 1}
    assert api.hits == []  # "after" was skipped again, not run by the redrive
