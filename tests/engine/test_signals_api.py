"""`POST /api/executions/{id}/signal` as a client sees it (SPEC §6, seed "Workflow Signals"):
every signal answers 202 with the new state, and every refusal its status and a message —
409 when the signal does not apply, 404 for unknown or foreign executions, 400 for bad
input or unknown types, 403 for someone who is not an approver. The seed's three examples
are sent verbatim, as curl would send them, to a live server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editor.models import Workflow
from engine.models import Execution, NodeRun

FINISHED = {"succeeded", "failed", "cancelled", "timed_out"}


def node(node_id: str, type_: str, config: dict[str, Any] | None = None, name: str = "") -> dict[str, Any]:
    return {"id": node_id, "type": type_, "name": name or node_id, "position": {"x": 0, "y": 0},
            "config": config or {}}


def chain(*nodes: dict[str, Any], extra: tuple[dict[str, Any], ...] = (), settings: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    edges = [{"id": f"e{i}", "source": a["id"], "target": b["id"]} for i, (a, b) in enumerate(pairwise(nodes), 1)]
    return {"schemaVersion": 1, "name": "signals", "settings": settings or {}, "nodes": [*nodes, *extra],
            "edges": edges}


def slow_definition(ms: int = 3000, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return chain(node("start", "start"), node("wait", "delay", {"duration": ms}),
                 node("done", "output", {"value": "{{signal}}"}, name="Done"),
                 extra=(node("update_priority_node", "transform", {"operation": "passthrough"}),),
                 settings=settings)


def start(client: APIClient, workflow: Workflow) -> int:
    response = client.post(f"/api/workflows/{workflow.pk}/run", {"input": {}}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def send(client: APIClient, execution_id: int, body: dict[str, Any], *, slash: bool = False) -> Any:
    return client.post(f"/api/executions/{execution_id}/signal{'/' if slash else ''}", body, format="json")


# --- each signal: 202 with the new state -----------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_pause_resume_cancel_and_custom_answer_202_with_the_state(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    workflow = make_workflow(definition=slow_definition(settings={
        "signalHandlers": {"priority_change": {"action": "custom", "handler": "update_priority_node"}}}))
    execution_id = start(alice_client, workflow)
    wait_for_execution(alice_client, execution_id, {"running"})

    response = send(alice_client, execution_id, {"type": "priority_change", "data": {"priority": 9}})
    assert response.status_code == 202, response.content
    assert response.json()["id"] == execution_id and response.json()["status"] == "running"

    response = send(alice_client, execution_id, {"type": "pause", "reason": "lunch"}, slash=True)
    assert response.status_code == 202, response.content
    assert response.json()["status"] in {"running", "paused"}  # the engine applies it a moment later
    assert wait_for_execution(alice_client, execution_id, {"paused"})["status"] == "paused"

    response = send(alice_client, execution_id, {"type": "resume", "data": {"go": True}})
    assert response.status_code == 202, response.content
    # As for the pause: the in-process engine is woken when the signal commits and may have
    # applied it before the answer re-reads the execution.
    assert response.json()["status"] in {"paused", "running"}
    wait_for_execution(alice_client, execution_id, {"running"})

    response = send(alice_client, execution_id, {"type": "cancel", "reason": "enough"})
    assert response.status_code == 202, response.content
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "cancelled"
    assert body["error"] == {"message": "enough"}
    handler = [r for r in body["nodeRuns"] if r["nodeId"] == "update_priority_node"]
    assert [(r["status"], r["input"]) for r in handler] == [("succeeded", {"priority": 9})]

    events = alice_client.get(f"/api/executions/{execution_id}/events").json()
    assert [e["data"]["type"] for e in events if e["type"] == "signal"] == [
        "priority_change", "pause", "resume", "cancel"]
    assert [e["data"]["sentBy"] for e in events if e["type"] == "signal"] == ["alice"] * 4


@pytest.mark.django_db(transaction=True)
def test_custom_signals_to_a_paused_execution_are_accepted_logged_and_handled(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    """While paused: 202, the signal in the event log at once; a `set` handler (data only)
    sets its variables before the resume, a `delay` handler (node work) starts on resume;
    a signal whose action is to cancel stops the paused run."""
    workflow = make_workflow(definition=chain(
        node("start", "start"), node("wait", "delay", {"duration": 3000}),
        node("done", "output", {"value": "{{variables.priority}}"}, name="Done"),
        extra=(node("prioritize", "set", {"values": {"priority": "{{input.priority}}"}}),
               node("notify", "delay", {"duration": 10})),
        settings={"variables": {"priority": "normal"}, "signalHandlers": {
            "priority_change": {"action": "custom", "handler": "prioritize"},
            "ping": {"action": "custom", "handler": "notify"},
            "abort": {"action": "cancel"}}}))
    execution_id = start(alice_client, workflow)
    wait_for_execution(alice_client, execution_id, {"running"})
    assert send(alice_client, execution_id, {"type": "pause", "reason": "hold on"}).status_code == 202
    wait_for_execution(alice_client, execution_id, {"paused"})

    for body in ({"type": "priority_change", "data": {"priority": "high"}}, {"type": "ping", "data": {"n": 1}}):
        response = send(alice_client, execution_id, body)
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "paused"

    def signals() -> list[dict[str, Any]]:
        events = alice_client.get(f"/api/executions/{execution_id}/events").json()
        return [e for e in events if e["type"] == "signal"]

    until(lambda: len(signals()) == 3)
    assert [(e["data"]["type"], e["status"]) for e in signals()] == [
        ("pause", "running"), ("priority_change", "paused"), ("ping", "paused")]

    def handler_runs() -> dict[str, list[str]]:
        body = alice_client.get(f"/api/executions/{execution_id}").json()
        assert body["status"] == "paused"
        out: dict[str, list[str]] = {}
        for run in body["nodeRuns"]:
            out.setdefault(run["nodeId"], []).append(run["status"])
        return out

    until(lambda: handler_runs().get("prioritize") == ["succeeded"])
    time.sleep(0.3)
    assert handler_runs()["notify"] == ["queued"]

    assert send(alice_client, execution_id, {"type": "resume"}).status_code == 202
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "succeeded" and body["output"] == {"Done": "high"}
    assert [r["status"] for r in body["nodeRuns"] if r["nodeId"] == "notify"] == ["succeeded"]

    # A signal whose handler cancels takes effect while paused too.
    execution_id = start(alice_client, workflow)
    wait_for_execution(alice_client, execution_id, {"running"})
    assert send(alice_client, execution_id, {"type": "pause"}).status_code == 202
    wait_for_execution(alice_client, execution_id, {"paused"})
    response = send(alice_client, execution_id, {"type": "abort", "reason": "not needed"})
    assert response.status_code == 202, response.content
    body = wait_for_execution(alice_client, execution_id, timeout=5)
    assert body["status"] == "cancelled" and body["error"] == {"message": "not needed"}


@pytest.mark.django_db
def test_cancel_of_a_queued_execution_is_immediate(alice_client: APIClient, make_workflow: Any) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition()))
    response = send(alice_client, execution_id, {"type": "cancel", "reason": "not needed"})
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"


# --- 409: the signal does not apply --------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_409_when_the_signal_does_not_apply_to_the_state(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition()))
    wait_for_execution(alice_client, execution_id, {"running"})

    response = send(alice_client, execution_id, {"type": "resume"})
    assert response.status_code == 409
    assert response.json()["detail"] == "cannot resume an execution that is running"

    assert send(alice_client, execution_id, {"type": "pause"}).status_code == 202
    wait_for_execution(alice_client, execution_id, {"paused"})
    response = send(alice_client, execution_id, {"type": "pause"})
    assert response.status_code == 409
    assert response.json()["detail"] == "cannot pause an execution that is paused"

    assert send(alice_client, execution_id, {"type": "cancel"}).status_code == 202
    wait_for_execution(alice_client, execution_id, {"cancelled"})
    for body in ({"type": "resume"}, {"type": "pause"}, {"type": "cancel"}):
        response = send(alice_client, execution_id, body)
        assert response.status_code == 409, body
        assert response.json()["detail"] == "execution is cancelled; signals no longer apply"


@pytest.mark.django_db(transaction=True)
def test_409_pause_of_a_finished_execution(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition(ms=10)))
    assert wait_for_execution(alice_client, execution_id)["status"] == "succeeded"
    response = send(alice_client, execution_id, {"type": "pause", "reason": "too late"})
    assert response.status_code == 409
    assert "succeeded" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_409_while_a_rollback_runs(alice_client: APIClient, make_workflow: Any, wait_for_execution: Any) -> None:
    definition = chain(
        node("start", "start"), node("book", "set", {"values": {"booked": 1}, "compensate": "unbook"}),
        node("wait", "delay", {"duration": 5000}),
        extra=(node("unbook", "delay", {"duration": 1500}),),
        settings={"signalHandlers": {"cancel": {"action": "cancel", "rollback": True}}},
    )
    execution_id = start(alice_client, make_workflow(definition=definition))
    wait_for_execution(alice_client, execution_id, {"running"})
    until(lambda: NodeRun.objects.filter(execution_id=execution_id, node_id="wait", status="running").exists())
    assert send(alice_client, execution_id, {"type": "cancel", "reason": "undo"}).status_code == 202
    until(lambda: NodeRun.objects.filter(execution_id=execution_id, node_id="unbook", status="running").exists())
    response = send(alice_client, execution_id, {"type": "pause"})
    assert response.status_code == 409
    assert "rolling back" in response.json()["detail"]
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "cancelled"
    # The compensation is a bar on the timeline like any node run.
    timeline = alice_client.get(f"/api/executions/{execution_id}/timeline").json()
    assert ("unbook", "succeeded") in {(b["nodeId"], b["status"]) for b in timeline["bars"]}


# --- 404 and 400 -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_404_for_unknown_and_foreign_executions(
    alice_client: APIClient, bob_client: APIClient, make_workflow: Any
) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition()))
    assert send(alice_client, 999999, {"type": "pause"}).status_code == 404
    response = send(bob_client, execution_id, {"type": "cancel"})
    assert response.status_code == 404
    assert response.json()["detail"]
    assert Execution.objects.get(id=execution_id).status == "queued"  # bob changed nothing


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "needle"), [
    ({"type": "explode"}, "unknown signal type 'explode'"),
    ({"type": "priority_change", "data": {"priority": 1}}, "unknown signal type"),  # no handler configured
    ({}, "type"),
    ({"type": ""}, "type"),
    ({"type": "pause", "reason": ["not", "text"]}, "reason"),
])
def test_400_for_bad_signals(alice_client: APIClient, make_workflow: Any, body: dict[str, Any], needle: str) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition()))
    response = send(alice_client, execution_id, body)
    assert response.status_code == 400, response.content
    assert needle in json.dumps(response.json())


@pytest.mark.django_db
def test_anonymous_signals_are_refused(anon_client: APIClient, alice_client: APIClient, make_workflow: Any) -> None:
    execution_id = start(alice_client, make_workflow(definition=slow_definition()))
    assert send(anon_client, execution_id, {"type": "cancel"}).status_code in (401, 403)
    assert Execution.objects.get(id=execution_id).status == "queued"


# --- approvals ---------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_approval_only_its_approvers_may_resume(
    alice_client: APIClient, staff_client: APIClient, make_workflow: Any, wait_for_execution: Any,
    alice: AbstractUser,
) -> None:
    definition = chain(node("start", "start"),
                       node("approve", "approval", {"approvers": ["alice@example.com"]}, name="Sign off"),
                       node("done", "output", {"value": "{{approve.approved}}"}, name="Done"))
    execution_id = start(alice_client, make_workflow(definition=definition))
    body = wait_for_execution(alice_client, execution_id, {"paused"})
    [approval] = [r for r in body["nodeRuns"] if r["nodeId"] == "approve"]
    assert approval["status"] == "running"
    events = alice_client.get(f"/api/executions/{execution_id}/events").json()
    paused = [e for e in events if e["type"] == "execution.paused"]
    assert paused[-1]["nodeId"] == "approve"
    assert paused[-1]["data"]["reason"] == "Awaiting approval"
    assert paused[-1]["data"]["approvers"] == ["alice@example.com"]

    # sam is staff and sees the run, but is not an approver.
    response = send(staff_client, execution_id, {"type": "resume", "data": {"approved": True}})
    assert response.status_code == 403
    assert "not an approver" in response.json()["detail"]
    assert Execution.objects.get(id=execution_id).status == "paused"

    response = send(alice_client, execution_id, {"type": "resume", "data": {"approved": True}})
    assert response.status_code == 202, response.content
    assert wait_for_execution(alice_client, execution_id)["output"] == {"Done": True}


@pytest.mark.django_db(transaction=True)
def test_the_list_and_the_live_status_say_which_approval_a_paused_run_waits_at(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    """Before, a row of the Executions list read "paused" whether the run waited for
    someone's approval or had been paused by hand (the editor and the run page knew)."""
    from engine.live.announce import execution_summary

    approval = make_workflow(definition=chain(node("start", "start"), node("approve", "approval", {}, name="Sign off"),
                                              node("done", "output", {"value": "{{approve.approved}}"}, name="Done")))
    waiting = start(alice_client, approval)
    by_hand = start(alice_client, make_workflow(definition=slow_definition()))
    wait_for_execution(alice_client, waiting, {"paused"})
    wait_for_execution(alice_client, by_hand, {"running"})
    assert send(alice_client, by_hand, {"type": "pause"}).status_code == 202
    wait_for_execution(alice_client, by_hand, {"paused"})

    rows = {row["id"]: row for row in alice_client.get("/api/executions").json()}
    assert rows[waiting]["waitingApproval"] == {"nodeId": "approve", "name": "Sign off"}
    assert rows[by_hand]["status"] == "paused" and rows[by_hand]["waitingApproval"] is None
    detail = alice_client.get(f"/api/executions/{waiting}").json()
    assert detail["waitingApproval"] == {"nodeId": "approve", "name": "Sign off"}
    # What the websocket's execution.status sends (the announcer's summary).
    assert execution_summary(waiting)["waitingApproval"] == {"nodeId": "approve", "name": "Sign off"}
    assert execution_summary(by_hand)["waitingApproval"] is None

    assert send(alice_client, waiting, {"type": "resume", "data": {"approved": True}}).status_code == 202
    wait_for_execution(alice_client, waiting)
    rows = {row["id"]: row for row in alice_client.get("/api/executions").json()}
    assert rows[waiting]["status"] == "succeeded" and rows[waiting]["waitingApproval"] is None
    assert execution_summary(waiting)["waitingApproval"] is None
    send(alice_client, by_hand, {"type": "cancel"})


# --- the seed's three examples, verbatim, over real HTTP ---------------------------------------------
SEED_PAUSE = """{
  "type": "pause",
  "reason": "Awaiting approval"
}"""
SEED_RESUME = """{
  "type": "resume",
  "data": {
    "approved": true,
    "approver": "user@example.com"
  }
}"""
SEED_CANCEL = """{
  "type": "cancel",
  "reason": "User requested cancellation"
}"""


def curl(url: str, token: str, body: str | None = None) -> tuple[int, dict[str, Any]]:
    """What `curl -X POST -H 'Content-Type: application/json' -d BODY URL` does."""
    request = urllib.request.Request(url, data=body.encode() if body is not None else None,
                                     method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.django_db(transaction=True)
def test_the_seed_signal_examples_verbatim_on_a_live_server(
    live_server: Any, alice: AbstractUser, make_workflow: Any, wait_for_execution: Any, alice_client: APIClient
) -> None:
    token = Token.objects.get_or_create(user=alice)[0].key
    base = live_server.url
    workflow = make_workflow(definition=slow_definition(ms=1500))

    def status_of(execution_id: int) -> str:
        return curl(f"{base}/api/executions/{execution_id}", token)[1]["status"]

    def until(execution_id: int, wanted: set[str]) -> str:
        deadline = time.monotonic() + 20
        while (status := status_of(execution_id)) not in wanted and time.monotonic() < deadline:
            time.sleep(0.05)
        return status

    code, body = curl(f"{base}/api/workflows/{workflow.pk}/run", token, '{"input": {}}')
    assert code == 201, body
    execution_id = body["id"]
    assert until(execution_id, {"running"}) == "running"
    code, body = curl(f"{base}/api/executions/{execution_id}/signal", token, SEED_PAUSE)
    assert code == 202, body
    assert body["id"] == execution_id
    assert until(execution_id, {"paused"}) == "paused"
    code, body = curl(f"{base}/api/executions/{execution_id}/signal", token, SEED_RESUME)
    assert code == 202, body
    assert until(execution_id, FINISHED) == "succeeded"
    code, body = curl(f"{base}/api/executions/{execution_id}", token)
    assert body["output"] == {"Done": {"approved": True, "approver": "user@example.com"}}

    code, body = curl(f"{base}/api/workflows/{workflow.pk}/run", token, '{"input": {}}')
    execution_id = body["id"]
    assert until(execution_id, {"running"}) == "running"
    code, body = curl(f"{base}/api/executions/{execution_id}/signal/", token, SEED_CANCEL)
    assert code == 202, body
    assert until(execution_id, FINISHED) == "cancelled"
    code, body = curl(f"{base}/api/executions/{execution_id}", token)
    assert body["error"] == {"message": "User requested cancellation"}
    # A signal that no longer applies: 409 with a message, over HTTP too.
    code, body = curl(f"{base}/api/executions/{execution_id}/signal", token, SEED_RESUME)
    assert code == 409 and body["detail"]
