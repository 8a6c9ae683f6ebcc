"""A custom signal's handler queued while the run is paused is kept until it runs: the run
does not end around it.

Found by the attacker pass of 2026-11-30: paused while its last node ran, a run took a
custom signal (202; its handler, node work, queued to start on resume, as the docs say),
then its last node finished and the run went from paused to succeeded on its own. The
handler was never run, its node run stayed `queued` in a finished execution, and the
resume that should have started it was a 409 ("execution is succeeded")."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.models import NodeRun
from tests.engine.test_signals_api import chain, node, send, start

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handler_queued_while_paused_runs_on_resume_even_after_the_flow_is_done(
    alice_client: Any, make_workflow: Any, wait_for_execution: Any
) -> None:
    workflow = make_workflow(definition=chain(
        node("start", "start"), node("wait", "delay", {"duration": 800}),
        extra=(node("notify", "delay", {"duration": 10}),),
        settings={"signalHandlers": {"ping": {"action": "custom", "handler": "notify"}}}))
    execution_id = start(alice_client, workflow)
    wait_for_execution(alice_client, execution_id, {"running"})
    assert send(alice_client, execution_id, {"type": "pause"}).status_code == 202
    wait_for_execution(alice_client, execution_id, {"paused"})
    assert send(alice_client, execution_id, {"type": "ping", "data": {"n": 1}}).status_code == 202

    def runs(node_id: str) -> list[str]:
        return list(NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).values_list("status", flat=True))

    deadline = time.monotonic() + 10
    while runs("wait") != ["succeeded"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runs("wait") == ["succeeded"]
    time.sleep(0.5)
    # The flow is done, but the handler waits for the resume: the run stays paused.
    body = alice_client.get(f"/api/executions/{execution_id}").json()
    assert body["status"] == "paused"
    assert runs("notify") == ["queued"]

    assert send(alice_client, execution_id, {"type": "resume"}).status_code == 202
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "succeeded", body["error"]
    assert runs("notify") == ["succeeded"]


def test_a_run_with_no_handler_waiting_still_ends_when_its_last_node_does(
    alice_client: Any, make_workflow: Any, wait_for_execution: Any
) -> None:
    workflow = make_workflow(definition=chain(node("start", "start"), node("wait", "delay", {"duration": 500})))
    execution_id = start(alice_client, workflow)
    wait_for_execution(alice_client, execution_id, {"running"})
    assert send(alice_client, execution_id, {"type": "pause"}).status_code == 202
    body = wait_for_execution(alice_client, execution_id, timeout=10)
    assert body["status"] == "succeeded"
