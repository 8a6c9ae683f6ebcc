"""Pinned test data (editor.pins): the pins API, and runs on the real engine that use them
(`usePinnedData`) or not (the plain API, webhooks). A local HTTP server counts the calls
an `http` node makes, so "the node did not run" is what the server saw."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction

from editor.models import Workflow
from engine import services
from engine.models import Execution, ExecutionPins, NodeRun
from engine.runtime import start_engine
from tests.conftest import create_webhook
from tests.engine.runs import START, definition, loop_definition, wait_finished, wait_status
from tests.http_server import CountingURL, counting_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingURL]:
    monkeypatch.setattr(start_engine().options, "http_allow_private", True)
    with counting_server(lambda path: {"greeting": "from the server"}) as url:
        yield url


def call_then_output(url: str, *, before: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """start → [before…] → call (http GET url) → o (output of call's greeting)."""
    chain = ["start", *[n["id"] for n in before or []], "call", "o"]
    return definition(
        [START, *(before or []),
         {"id": "call", "type": "http", "name": "Call", "config": {"method": "GET", "url": url + "/slow-paid"}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{call.body.greeting}}"}}],
        list(pairwise(chain)))


def create(client: Any, d: dict[str, Any]) -> int:
    response = client.post("/api/workflows", {"name": "Pins", "definition": d}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def pin(client: Any, workflow_id: int, node_id: str, data: Any) -> Any:
    return client.put(f"/api/workflows/{workflow_id}/pins/{node_id}", {"data": data}, format="json")


def run(client: Any, workflow_id: int, **body: Any) -> Any:
    response = client.post(f"/api/workflows/{workflow_id}/run", {"input": {}, **body}, format="json")
    assert response.status_code == 201, response.content
    return wait_finished(response.json()["id"])


def test_a_pinned_http_node_calls_nothing_and_the_next_node_gets_the_pin(alice_client, api):
    workflow_id = create(alice_client, call_then_output(api))
    first = run(alice_client, workflow_id, usePinnedData=True)  # nothing pinned yet: it calls
    assert (first.status, first.output, len(api.hits)) == ("succeeded", {"o": "from the server"}, 1)

    response = pin(alice_client, workflow_id, "call", {"body": {"greeting": "from the pin"}})
    assert response.status_code == 200, response.content
    assert response.json()["nodeId"] == "call" and response.json()["data"] == {"body": {"greeting": "from the pin"}}
    listed = alice_client.get(f"/api/workflows/{workflow_id}/pins").json()
    assert [(p["nodeId"], p["data"], p["updatedBy"]) for p in listed] == [("call", {"body": {"greeting": "from the pin"}}, "alice")]

    pinned = run(alice_client, workflow_id, usePinnedData=True)
    assert (pinned.status, pinned.output) == ("succeeded", {"o": "from the pin"})
    assert len(api.hits) == 1  # the server was not called again
    detail = alice_client.get(f"/api/executions/{pinned.pk}").json()
    runs = {r["nodeId"]: r for r in detail["nodeRuns"]}
    assert runs["call"]["pinned"] is True and runs["call"]["status"] == "succeeded"
    assert runs["call"]["output"] == {"body": {"greeting": "from the pin"}}
    assert runs["o"]["pinned"] is False
    bars = {b["nodeId"]: b for b in alice_client.get(f"/api/executions/{pinned.pk}/timeline").json()["bars"]}
    assert bars["call"]["pinned"] is True and bars["o"]["pinned"] is False
    # The ownership column says which engine held the run, as for any node run (the admin
    # shows it); "pinned" is a marker of its own.
    call_run = NodeRun.objects.get(execution=pinned, node_id="call")
    assert (call_run.pinned, call_run.claimed_by) == (True, start_engine().engine_id)

    plain = run(alice_client, workflow_id)  # the plain API does not use pins unless asked
    assert (plain.output, len(api.hits)) == ({"o": "from the server"}, 2)

    assert alice_client.delete(f"/api/workflows/{workflow_id}/pins/call").status_code == 204
    assert alice_client.get(f"/api/workflows/{workflow_id}/pins").json() == []
    unpinned = run(alice_client, workflow_id, usePinnedData=True)
    assert (unpinned.output, len(api.hits)) == ({"o": "from the server"}, 3)


def test_a_webhook_run_ignores_pins(alice_client, client, api):
    workflow_id = create(alice_client, call_then_output(api))
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "from the pin"}}).status_code == 200
    hook = create_webhook(alice_client, workflow_id)
    path = hook["url"].removeprefix("http://testserver")
    response = client.post(path, "{}", content_type="application/json")
    assert response.status_code == 202, response.content
    execution = wait_finished(response.json()["executionId"])
    assert (execution.output, len(api.hits)) == ({"o": "from the server"}, 1)
    assert not NodeRun.objects.filter(execution=execution, pinned=True).exists()


def test_a_pin_edited_while_a_run_runs_does_not_change_that_run(alice_client, api):
    wait = {"id": "wait", "type": "delay", "name": "Wait", "config": {"duration": 1500}}
    workflow_id = create(alice_client, call_then_output(api, before=[wait]))
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "pinned before"}}).status_code == 200
    response = alice_client.post(f"/api/workflows/{workflow_id}/run", {"usePinnedData": True}, format="json")
    execution_id = response.json()["id"]
    wait_status(execution_id, {"running"})
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "pinned later"}}).status_code == 200
    execution = wait_finished(execution_id)
    assert (execution.output, api.hits) == ({"o": "pinned before"}, [])

    retried = alice_client.post(f"/api/executions/{execution_id}/retry", {}, format="json")
    assert retried.status_code == 201, retried.content
    # A retry of a test run keeps that run's pins; the run after it takes the new pin.
    assert (wait_finished(retried.json()["id"]).output, api.hits) == ({"o": "pinned before"}, [])
    assert run(alice_client, workflow_id, usePinnedData=True).output == {"o": "pinned later"}


def test_a_pinned_node_in_a_loop_gives_its_pin_for_every_item(alice_client, api):
    d = loop_definition({"maxConcurrency": 2}, [
        {"id": "call", "type": "http", "name": "Call", "config": {"method": "GET", "url": api + "/item"}}])
    workflow_id = create(alice_client, d)
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "pinned"}}).status_code == 200
    response = alice_client.post(f"/api/workflows/{workflow_id}/run",
                                 {"input": {"items": [1, 2, 3]}, "usePinnedData": True}, format="json")
    execution = wait_finished(response.json()["id"])
    assert execution.status == "succeeded", execution.error
    assert api.hits == []
    calls = list(NodeRun.objects.filter(execution=execution, node_id="call").order_by("iteration"))
    assert [(r.iteration, r.status, r.output, r.pinned) for r in calls] == [
        (i, "succeeded", {"body": {"greeting": "pinned"}}, True) for i in range(3)]


def test_a_redrive_of_a_run_with_pins_keeps_the_node_pinned(alice_client, api):
    d = definition([START, {"id": "call", "type": "http", "config": {"method": "GET", "url": api + "/x"}},
                    {"id": "boom", "type": "fail", "config": {"message": "{{call.body.greeting}}"}}],
                   [("start", "call"), ("call", "boom")])
    workflow_id = create(alice_client, d)
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "pinned"}}).status_code == 200
    failed = run(alice_client, workflow_id, usePinnedData=True)
    assert failed.status == "failed" and "pinned" in json.dumps(failed.error)
    assert alice_client.delete(f"/api/workflows/{workflow_id}/pins/call").status_code == 204
    redriven = alice_client.post(f"/api/executions/{failed.pk}/redrive", {"nodes": ["call"]}, format="json")
    assert redriven.status_code == 202, redriven.content
    time.sleep(0.05)
    again = wait_finished(failed.pk)
    assert again.status == "failed" and api.hits == []  # the run's own snapshot, not today's pins
    assert NodeRun.objects.filter(execution=again, node_id="call", pinned=True).count() == 2


def redrive(client: Any, execution_id: int, **body: Any) -> Execution:
    response = client.post(f"/api/executions/{execution_id}/redrive", body, format="json")
    assert response.status_code == 202, response.content
    return wait_finished(execution_id)


def test_re_run_from_here_of_a_test_run_uses_the_pins_as_they_are_now(alice_client, api):
    """The editor's "Re-run from here" on a test run (n8n: a manual run uses the pins as they
    are now): unpinned since, the node runs; pinned since, it does not. A plain redrive keeps
    the run's own copy, and so does whatever runs the re-run next (a takeover reads it)."""
    workflow_id = create(alice_client, call_then_output(api))
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "from the pin"}}).status_code == 200
    tested = run(alice_client, workflow_id, usePinnedData=True)
    assert (tested.output, api.hits) == ({"o": "from the pin"}, [])
    assert alice_client.get(f"/api/executions/{tested.pk}").json()["testRun"] is True
    assert alice_client.delete(f"/api/workflows/{workflow_id}/pins/call").status_code == 204

    # A redrive of the same nodes without usePinnedData: the run's copy, the pin still answers.
    kept = redrive(alice_client, tested.pk, version="latest", nodes=["call"])
    assert (kept.output, api.hits) == ({"o": "from the pin"}, [])
    # "Re-run from here" (what the editor sends for a test run): unpinned now, so it calls.
    rerun = redrive(alice_client, tested.pk, version="latest", nodes=["call"], usePinnedData=True)
    assert (rerun.status, rerun.output, api.hits) == ("succeeded", {"o": "from the server"}, ["/slow-paid"])
    latest = NodeRun.objects.filter(execution=rerun, node_id="call").order_by("-seq").first()
    assert latest is not None and latest.pinned is False
    # The run's copy is now the pins of that re-run: what a later redrive or takeover uses.
    assert services.execution_pinned(rerun, test_run=True) == {}

    # Pinned again since: re-run from here uses the new pin, and calls nothing.
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "pinned later"}}).status_code == 200
    again = redrive(alice_client, tested.pk, version="latest", nodes=["call"], usePinnedData=True)
    assert (again.output, len(api.hits)) == ({"o": "pinned later"}, 1)


def test_re_run_from_here_with_current_pins_is_only_for_test_runs(alice_client, api):
    workflow_id = create(alice_client, call_then_output(api))
    plain = run(alice_client, workflow_id)  # the plain API: not a test run, no pins
    assert alice_client.get(f"/api/executions/{plain.pk}").json()["testRun"] is False
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "from the pin"}}).status_code == 200
    refused = alice_client.post(f"/api/executions/{plain.pk}/redrive",
                                {"nodes": ["call"], "usePinnedData": True}, format="json")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert refused.json()["detail"] == (f"execution {plain.pk} was not a test run with pinned data "
                                        "(usePinnedData): it has no pins to bring up to date")
    assert Execution.objects.get(pk=plain.pk).redrives == 0

    # A test run when nothing was pinned is a test run all the same: pinned since, the pin answers.
    assert alice_client.delete(f"/api/workflows/{workflow_id}/pins/call").status_code == 204
    tested = run(alice_client, workflow_id, usePinnedData=True)
    assert (tested.output, len(api.hits)) == ({"o": "from the server"}, 2)
    assert pin(alice_client, workflow_id, "call", {"body": {"greeting": "from the pin"}}).status_code == 200
    rerun = redrive(alice_client, tested.pk, version="latest", nodes=["call"], usePinnedData=True)
    assert (rerun.output, len(api.hits)) == ({"o": "from the pin"}, 2)


def test_pins_refuse_unknown_and_control_nodes_naming_them(alice_client):
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 10}},
                    {"id": "shape", "type": "transform", "config": {"operation": "passthrough"}}],
                   [("start", "wait"), ("wait", "shape")])
    workflow_id = create(alice_client, d)
    unknown = pin(alice_client, workflow_id, "ghost", {"a": 1})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["nodeId"] == "ghost" and "no node 'ghost'" in unknown.json()["detail"]
    for node_id, kind in (("wait", "delay"), ("start", "start")):
        control = pin(alice_client, workflow_id, node_id, {"a": 1})
        assert control.status_code == 400, control.content
        assert control.json()["errors"] == [{"nodeId": node_id, "message": control.json()["errors"][0]["message"]}]
        assert f"a {kind} node cannot be pinned" in control.json()["detail"]
    assert pin(alice_client, workflow_id, "shape", [1, "two", None]).status_code == 200
    assert pin(alice_client, workflow_id, "shape", None).json()["data"] is None  # null is data too
    missing_data = alice_client.put(f"/api/workflows/{workflow_id}/pins/shape", {}, format="json")
    assert missing_data.status_code == 400 and "data" in missing_data.content.decode()
    assert alice_client.delete(f"/api/workflows/{workflow_id}/pins/wait").status_code == 404


def test_a_pin_url_with_a_node_id_too_long_for_any_node_answers_json_naming_the_limit(alice_client, bob_client):
    longest = "n" * 100  # as long as a node id can be (rules.MAX_NODE_ID_LENGTH)
    d = definition([START, {"id": longest, "type": "transform", "config": {"operation": "passthrough"}}],
                   [("start", longest)])
    workflow_id = create(alice_client, d)
    base = f"/api/workflows/{workflow_id}/pins"
    assert pin(alice_client, workflow_id, longest, {"a": 1}).status_code == 200
    assert alice_client.delete(f"{base}/{longest}/").status_code == 204
    gone = alice_client.delete(f"{base}/{longest}")
    assert (gone.status_code, gone.json()) == (404, {"detail": f"node {longest} has no pinned data."})

    too_long = "n" * 101
    why = "a node id is at most 100 characters; this one has 101"
    for answer in (pin(alice_client, workflow_id, too_long, {"a": 1}), alice_client.delete(f"{base}/{too_long}"),
                   alice_client.delete(f"{base}/{too_long}/")):
        assert (answer.status_code, answer["Content-Type"]) == (400, "application/json"), answer.content
        assert answer.json()["detail"] == why
        assert answer.json()["errors"] == [{"message": why, "nodeId": "n" * 100 + "…"}]
    # There is no GET of one pin (the list has them all): said in JSON, whatever the id's length.
    for node_id in (longest, too_long):
        listed = alice_client.get(f"{base}/{node_id}")
        assert (listed.status_code, listed.json()) == (405, {"detail": 'Method "GET" not allowed.'})
    # Someone else's workflow is not found, before the id is looked at.
    for answer in (pin(bob_client, workflow_id, too_long, {"a": 1}), bob_client.delete(f"{base}/{too_long}")):
        assert (answer.status_code, answer.json()) == (404, {"detail": "Not found."})
    assert alice_client.get(base).json() == []


def test_pins_are_bounded_in_size_and_number(alice_client, settings):
    settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES = 100
    settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW = 1
    d = definition([START, *[{"id": f"t{i}", "type": "transform", "config": {"operation": "passthrough"}}
                             for i in range(2)]], [("start", "t0"), ("start", "t1")])
    workflow_id = create(alice_client, d)
    big = pin(alice_client, workflow_id, "t0", {"text": "x" * 200})
    assert big.status_code == 400
    assert big.json()["errors"][0]["nodeId"] == "t0"
    assert "FLOWMAESTRO_PINNED_DATA_MAX_BYTES" in big.json()["detail"] and "more than 100" in big.json()["detail"]
    assert pin(alice_client, workflow_id, "t0", {"text": "small"}).status_code == 200
    assert pin(alice_client, workflow_id, "t0", {"text": "replaced"}).status_code == 200  # a replacement is no new pin
    second = pin(alice_client, workflow_id, "t1", {"text": "small"})
    assert second.status_code == 409
    assert "at most 1 pinned nodes" in second.json()["detail"]
    assert [p["nodeId"] for p in alice_client.get(f"/api/workflows/{workflow_id}/pins").json()] == ["t0"]

    # t0 deleted from the workflow: its pin no longer takes the only place.
    d["nodes"] = [n for n in d["nodes"] if n["id"] != "t0"]
    d["edges"] = [e for e in d["edges"] if e["target"] != "t0"]
    assert alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": d}, format="json").status_code == 200
    assert pin(alice_client, workflow_id, "t1", {"text": "small"}).status_code == 200
    assert [p["nodeId"] for p in alice_client.get(f"/api/workflows/{workflow_id}/pins").json()] == ["t1"]


def test_another_users_pins_are_not_found(alice_client, bob_client):
    d = definition([START, {"id": "shape", "type": "transform", "config": {"operation": "passthrough"}}],
                   [("start", "shape")])
    workflow_id = create(alice_client, d)
    assert pin(alice_client, workflow_id, "shape", {"mine": True}).status_code == 200
    for response in (bob_client.get(f"/api/workflows/{workflow_id}/pins"),
                     pin(bob_client, workflow_id, "shape", {"theirs": True}),
                     bob_client.delete(f"/api/workflows/{workflow_id}/pins/shape")):
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert alice_client.get(f"/api/workflows/{workflow_id}/pins").json()[0]["data"] == {"mine": True}


def test_a_duplicate_keeps_the_pins_of_its_nodes(alice_client: Any, bob_client: Any, api: CountingURL) -> None:
    """Duplicating a workflow to try a change keeps building on the same pinned answers (as
    n8n's duplicate keeps pin data): the copy has the pins, a test run of the copy makes no
    call, and the two workflows' pins are separate from then on."""
    original = create(alice_client, call_then_output(api))
    assert pin(alice_client, original, "call", {"body": {"greeting": "pinned hello"}}).status_code == 200

    response = alice_client.post(f"/api/workflows/{original}/duplicate/")
    assert response.status_code == 201, response.content
    copy_id = response.json()["id"]
    pins = alice_client.get(f"/api/workflows/{copy_id}/pins").json()
    assert [(p["nodeId"], p["data"]) for p in pins] == [("call", {"body": {"greeting": "pinned hello"}})]

    run = alice_client.post(f"/api/workflows/{copy_id}/run", {"input": {}, "usePinnedData": True}, format="json")
    assert run.status_code == 201, run.content
    done = wait_finished(run.json()["id"])
    assert done.status == "succeeded" and done.output == {"o": "pinned hello"}, done.output
    assert api.hits == []

    # Separate from here on: unpinning the copy leaves the original's pin.
    assert alice_client.delete(f"/api/workflows/{copy_id}/pins/call").status_code == 204
    assert [p["nodeId"] for p in alice_client.get(f"/api/workflows/{original}/pins").json()] == ["call"]
    # Another user's workflow stays out of reach: no duplicate, no pins.
    assert bob_client.post(f"/api/workflows/{original}/duplicate/").status_code == 404


def test_the_pins_of_a_run_are_not_rewritten_with_its_state(alice_client, monkeypatch):
    """The engine rewrites an execution's whole state at every save (each status change,
    each `set`); the pins a run uses are stored once, when it is recorded. A run with a
    400 KB pin writes a state of a few hundred bytes each time, not the pin again."""
    from engine.store import writes

    state_bytes: list[int] = []
    adapt = writes.adapt

    def measured(field: str, value: Any, ops: Any = None) -> Any:
        adapted = adapt(field, value, ops)
        if field == "state":
            state_bytes.append(len(adapted))
        return adapted

    monkeypatch.setattr(writes, "adapt", measured)
    big = {"rows": [f"pinned row {i:06d}" for i in range(20000)]}
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 20}},
                    {"id": "shape", "type": "transform", "config": {"operation": "passthrough"}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{shape.rows.length}}"}}],
                   [("start", "wait"), ("wait", "shape"), ("shape", "o")])
    workflow_id = create(alice_client, d)
    assert pin(alice_client, workflow_id, "shape", big).status_code == 200
    execution = run(alice_client, workflow_id, usePinnedData=True)
    assert (execution.status, execution.output) == ("succeeded", {"o": 20000})
    assert state_bytes, "the engine saved no state"
    assert max(state_bytes) < 2000, state_bytes  # the pin is ~400 KB of JSON
    assert "pinned" not in execution.state
    assert ExecutionPins.objects.get(execution=execution).data == {"shape": big}


def test_a_run_recorded_with_its_pins_in_its_state_still_uses_them(alice_client, api):
    """Runs recorded before the pins had a row of their own kept them in `state["pinned"]`:
    the engine still outputs those pins, and the migration moves them to the row."""
    workflow_id = create(alice_client, call_then_output(api))
    workflow = Workflow.objects.get(pk=workflow_id)
    old_pins = {"call": {"body": {"greeting": "from the old state"}}}
    with transaction.atomic():  # the engine is woken at the commit, after the state is set
        execution = services.execution_start(workflow=workflow, user=workflow.owner)
        Execution.objects.filter(pk=execution.pk).update(state={**execution.state, "pinned": old_pins})
    done = wait_finished(execution.pk)
    assert (done.status, done.output, api.hits) == ("succeeded", {"o": "from the old state"}, [])
    assert done.state["pinned"] == old_pins
    # A retry of it keeps them too.
    retried = alice_client.post(f"/api/executions/{execution.pk}/retry", {}, format="json")
    assert retried.status_code == 201, retried.content
    assert wait_finished(retried.json()["id"]).output == {"o": "from the old state"}

    migration = importlib.import_module("engine.migrations.0012_execution_pins")
    migration.move_pins_out_of_state(django_apps, SimpleNamespace(connection=connection))
    done.refresh_from_db()
    assert "pinned" not in done.state and "otel" in done.state
    assert ExecutionPins.objects.get(execution=done).data == old_pins
    assert services.execution_pinned(done) == old_pins


def _import(client: Any, d: dict[str, Any], pin_data: Any = None, **extra: Any) -> Any:
    body = {"name": "Imported", "definition": d, **extra}
    if pin_data is not None:
        body["pinData"] = pin_data
    return client.post("/api/workflows", body, format="json")


def test_an_imported_workflow_brings_its_pins(alice_client, api):
    """n8n's export carries `pinData`; importing such a file (the list page's Import JSON
    creates the workflow with it) pins those nodes, and a test run uses them."""
    response = _import(alice_client, call_then_output(api), {"call": {"body": {"greeting": "from the file"}}})
    assert response.status_code == 201, response.content
    workflow_id = response.json()["id"]
    listed = alice_client.get(f"/api/workflows/{workflow_id}/pins").json()
    assert [(p["nodeId"], p["data"], p["updatedBy"]) for p in listed] == [
        ("call", {"body": {"greeting": "from the file"}}, "alice")]
    assert run(alice_client, workflow_id, usePinnedData=True).output == {"o": "from the file"}
    assert api.hits == []

    # An export from before pins were exported (no pinData) imports as it always did.
    old = _import(alice_client, call_then_output(api))
    assert old.status_code == 201, old.content
    assert alice_client.get(f"/api/workflows/{old.json()['id']}/pins").json() == []


def test_an_import_with_a_refused_pin_creates_nothing(alice_client, settings):
    settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES = 100
    settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW = 2
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 10}},
                    *[{"id": f"t{i}", "type": "transform", "config": {"operation": "passthrough"}} for i in range(3)]],
                   [("start", "wait"), ("wait", "t0"), ("wait", "t1"), ("wait", "t2")])
    before = Workflow.objects.count()
    cases = [
        ({"t0": 1, "ghost": {"a": 1}}, 400, "ghost", "no node 'ghost'"),
        ({"wait": {"a": 1}}, 400, "wait", "a delay node cannot be pinned"),
        ({"t1": {"text": "x" * 200}}, 400, "t1", "FLOWMAESTRO_PINNED_DATA_MAX_BYTES"),
        ({"t0": 1, "t1": 2, "t2": 3}, 409, None, "at most 2 pinned nodes"),
    ]
    for pin_data, code, node_id, words in cases:
        response = _import(alice_client, d, pin_data)
        assert response.status_code == code, response.content
        assert words in response.json()["detail"], response.json()
        if node_id is not None:
            assert response.json()["errors"][0]["nodeId"] == node_id
        assert Workflow.objects.count() == before  # never a workflow without its pins
    not_an_object = _import(alice_client, d, [1, 2])
    assert not_an_object.status_code == 400 and "pinData" in not_an_object.json()["errors"]
    assert Workflow.objects.count() == before
    assert _import(alice_client, d, {"t0": {"small": True}, "t2": None}).status_code == 201


def test_importing_over_a_workflow_replaces_its_pins_or_changes_nothing(alice_client):
    """The editor's Import puts a file on the canvas; the save that follows sends its
    `pinData`: the workflow's pins become the file's, or, when one is refused, neither the
    definition nor the pins change."""
    d = definition([START, *[{"id": f"t{i}", "type": "transform", "config": {"operation": "passthrough"}}
                             for i in range(2)]], [("start", "t0"), ("start", "t1")])
    workflow_id = create(alice_client, d)
    assert pin(alice_client, workflow_id, "t0", {"kept": "until the import"}).status_code == 200
    version = alice_client.get(f"/api/workflows/{workflow_id}").json()["version"]

    imported = {**d, "nodes": [*d["nodes"], {"id": "t9", "type": "transform", "config": {"operation": "passthrough"}}],
                "edges": [*d["edges"], {"id": "e9", "source": "start", "target": "t9"}]}
    refused = alice_client.patch(f"/api/workflows/{workflow_id}",
                                 {"definition": imported, "pinData": {"t9": 1, "start": 2}}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["nodeId"] == "start"
    after = alice_client.get(f"/api/workflows/{workflow_id}").json()
    assert after["version"] == version and "t9" not in [n["id"] for n in after["definition"]["nodes"]]
    assert [p["nodeId"] for p in alice_client.get(f"/api/workflows/{workflow_id}/pins").json()] == ["t0"]

    saved = alice_client.patch(f"/api/workflows/{workflow_id}",
                               {"definition": imported, "pinData": {"t9": {"from": "the file"}}}, format="json")
    assert saved.status_code == 200, saved.content
    assert [(p["nodeId"], p["data"]) for p in alice_client.get(f"/api/workflows/{workflow_id}/pins").json()] == [
        ("t9", {"from": "the file"})]
    # A save without pinData (every save but an import's) leaves the pins alone.
    assert alice_client.patch(f"/api/workflows/{workflow_id}", {"name": "Renamed"}, format="json").status_code == 200
    assert [p["nodeId"] for p in alice_client.get(f"/api/workflows/{workflow_id}/pins").json()] == ["t9"]


def test_node_runs_pinned_before_the_marker_had_a_column_still_say_pinned(alice_client):
    """Pinned node runs were once marked by `claimed_by = "pinned"` (the column naming the
    engine that holds a run); the migration marks them `pinned` and empties that column."""
    d = definition([START, {"id": "shape", "type": "transform", "config": {"operation": "passthrough"}}],
                   [("start", "shape")])
    workflow_id = create(alice_client, d)
    done = run(alice_client, workflow_id)
    NodeRun.objects.filter(execution=done, node_id="shape").update(claimed_by="pinned", pinned=False)

    migration = importlib.import_module("engine.migrations.0013_noderun_pinned")
    migration.mark_pinned_runs(django_apps, SimpleNamespace(connection=connection))
    shape = NodeRun.objects.get(execution=done, node_id="shape")
    assert (shape.pinned, shape.claimed_by) == (True, "")
    runs = {r["nodeId"]: r for r in alice_client.get(f"/api/executions/{done.pk}").json()["nodeRuns"]}
    assert runs["shape"]["pinned"] is True and runs["start"]["pinned"] is False
    bars = {b["nodeId"]: b for b in alice_client.get(f"/api/executions/{done.pk}/timeline").json()["bars"]}
    assert bars["shape"]["pinned"] is True and bars["start"]["pinned"] is False
