"""The workflow run queue and dead letters through the HTTP API, with the real engine
(SPEC §4.5, §7): 429 when full, fifo/lifo/priority order, queue timeout, dead letters
listed, inspected, replayed and discarded; alice owns, bob sees nothing, sam is staff."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.models import DeadLetter, Execution, NodeRun
from tests.engine.runs import START, definition, loop_definition, wait_finished, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


def blocking_workflow(**queue: Any) -> dict[str, Any]:
    """One delay whose length is the run's `input.ms`."""
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": "{{input.ms}}"}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{input.tag}}"}}],
                   [("start", "wait"), ("wait", "o")], queue={"maxConcurrentRuns": 1, **queue})
    return d


def create(client: Any, d: dict[str, Any], name: str = "Queued") -> int:
    response = client.post("/api/workflows", {"name": name, "definition": d}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def run(client: Any, workflow_id: int, input: Any, priority: int = 0) -> Any:
    return client.post(f"/api/workflows/{workflow_id}/run", {"input": input, "priority": priority}, format="json")


def test_run_api_answers_429_with_a_clear_message_when_the_queue_is_full(alice_client):
    wf = create(alice_client, blocking_workflow(maxSize=2))
    first = run(alice_client, wf, {"ms": 1500}).json()
    wait_status(first["id"], {"running"})
    assert run(alice_client, wf, {"ms": 1}).status_code == 201
    assert run(alice_client, wf, {"ms": 1}).status_code == 201
    refused = run(alice_client, wf, {"ms": 1})
    assert refused.status_code == 429
    assert refused.json()["detail"] == "queue full: 2 runs of this workflow are already waiting (queue.maxSize=2)"
    assert Execution.objects.filter(workflow_id=wf).count() == 3  # the refused run was not created


@pytest.mark.parametrize(
    ("order", "priorities", "expected"),
    [
        ("fifo", [0, 0, 0], ["a", "b", "c"]),
        ("lifo", [0, 0, 0], ["c", "b", "a"]),
        ("priority", [1, 9, 5], ["b", "c", "a"]),
    ],
)
def test_waiting_runs_start_in_queue_order(alice_client, order, priorities, expected):
    wf = create(alice_client, blocking_workflow(priority=order))
    first = run(alice_client, wf, {"ms": 600, "tag": "first"}).json()
    wait_status(first["id"], {"running"})
    ids = [run(alice_client, wf, {"ms": 30, "tag": tag}, priority=p).json()["id"]
           for tag, p in zip("abc", priorities, strict=True)]
    finished = [wait_finished(i, 15) for i in ids]
    assert all(ex.status == "succeeded" for ex in finished)
    started = sorted(finished, key=lambda ex: ex.started_at)
    assert [ex.output["o"] for ex in started] == expected
    # maxConcurrentRuns 1: no two runs of the workflow overlapped.
    spans = sorted((ex.started_at, ex.finished_at) for ex in [Execution.objects.get(id=first["id"]), *finished])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_queue_timeout_fails_the_waiting_run_and_keeps_a_dead_letter(alice_client, bob_client, staff_client):
    wf = create(alice_client, blocking_workflow(timeout=300, deadLetterQueue=True))
    first = run(alice_client, wf, {"ms": 4000, "tag": "first"}).json()
    wait_status(first["id"], {"running"})
    waiting = run(alice_client, wf, {"ms": 1, "tag": "late"}).json()
    expired = wait_status(waiting["id"], {"timed_out"}, timeout=10)
    # It expired while the slot was still taken (the 300 ms timeout, found by the engine's
    # poll), not when the first run freed it 4 s later: an order, not a wall time.
    assert Execution.objects.get(pk=first["id"]).status == "running"
    assert expired.error["message"] == "queue timeout"
    assert expired.started_at is None
    body = alice_client.get(f"/api/executions/{waiting['id']}").json()
    assert body["status"] == "timed_out" and body["error"]["message"] == "queue timeout"
    events = alice_client.get(f"/api/executions/{waiting['id']}/events").json()
    assert [e["type"] for e in events] == ["execution.queued", "execution.timed_out"]

    letters = alice_client.get("/api/dead-letters").json()
    assert len(letters) == 1
    letter = letters[0]
    assert letter["kind"] == "run" and letter["execution"] == waiting["id"] and letter["state"] == "open"
    assert letter["input"] == {"ms": 1, "tag": "late"} and letter["traceId"] == waiting["traceId"]
    assert letter["error"]["message"] == "queue timeout"
    assert bob_client.get("/api/dead-letters").json() == []
    assert bob_client.get(f"/api/dead-letters/{letter['id']}").status_code == 404
    assert bob_client.post(f"/api/dead-letters/{letter['id']}/replay").status_code == 404
    assert [d["id"] for d in staff_client.get("/api/dead-letters").json()] == [letter["id"]]

    # Replayed once the slot is free, the same input runs to completion.
    wait_finished(first["id"], 10)
    replay = alice_client.post(f"/api/dead-letters/{letter['id']}/replay")
    assert replay.status_code == 201, replay.content
    replayed = wait_finished(replay.json()["id"], 10)
    assert replayed.status == "succeeded" and replayed.output == {"o": "late"}
    assert replayed.input == {"ms": 1, "tag": "late"} and replayed.version_id == expired.version_id
    detail = alice_client.get(f"/api/dead-letters/{letter['id']}").json()
    assert detail["state"] == "replayed" and detail["replayedExecution"] == replayed.id
    again = alice_client.post(f"/api/dead-letters/{letter['id']}/replay")
    assert again.status_code == 409 and "already replayed" in again.json()["detail"]


def test_failed_runs_become_dead_letters_only_with_dead_letter_queue(alice_client):
    failing = definition([START, {"id": "boom", "type": "fail", "config": {
        "message": "payment API down", "retry": {"maxAttempts": 2, "initialDelay": 10}}}],
        [("start", "boom")], queue={"deadLetterQueue": True})
    wf = create(alice_client, failing)
    ex = wait_finished(run(alice_client, wf, {"order": 7}).json()["id"])
    assert ex.status == "failed"
    letter = DeadLetter.objects.get(execution_id=ex.id)
    assert (letter.kind, letter.input, letter.attempts) == ("run", {"order": 7}, 2)
    assert "payment API down" in str(letter.error)

    failing["settings"]["queue"] = {}
    plain = create(alice_client, failing, "No DLQ")
    wait_finished(run(alice_client, plain, {}).json()["id"])
    assert DeadLetter.objects.count() == 1

    # Discard: it stays listed as discarded and can no longer be replayed.
    discarded = alice_client.post(f"/api/dead-letters/{letter.id}/discard")
    assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    assert alice_client.get("/api/dead-letters?state=open").json() == []
    assert [d["id"] for d in alice_client.get("/api/dead-letters?state=discarded").json()] == [letter.id]
    assert alice_client.post(f"/api/dead-letters/{letter.id}/replay").status_code == 409
    assert alice_client.post(f"/api/dead-letters/{letter.id}/discard").status_code == 409


def test_dead_letter_list_filters_and_bad_input(alice_client):
    assert alice_client.get("/api/dead-letters?kind=nope").status_code == 400
    assert alice_client.get("/api/dead-letters?state=nope").status_code == 400
    assert alice_client.get("/api/dead-letters?workflow=x").status_code == 400
    assert alice_client.get("/api/dead-letters/999999").status_code == 404
    assert alice_client.get("/api/dead-letters/").json() == []


def test_loop_item_dead_letters_replay_only_that_item(alice_client):
    # One item at a time, 200 ms each; items wait at most 250 ms: items 2 and 3 expire.
    d = loop_definition({"maxConcurrency": 1, "queue": {"timeout": 250, "deadLetterQueue": True},
                         "parallel": {"onPartialFailure": "continue"}},
                        [{"id": "work", "type": "delay", "config": {"duration": 150}},
                         {"id": "tag", "type": "output", "config": {"value": "{{user.name}}#{{parallel.index}}"}}],
                        [("work", "tag")])
    d["nodes"][1]["config"]["itemVariable"] = "user"
    wf = create(alice_client, d, "Items")
    users = [{"name": n} for n in ("ann", "ben", "cat", "dan")]
    ex = wait_finished(run(alice_client, wf, {"items": users}).json()["id"])
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"o": ["ann#0", "ben#1"]}
    letters = alice_client.get(f"/api/dead-letters?execution={ex.id}&kind=item").json()
    assert sorted((x["itemIndex"], x["input"]["name"]) for x in letters) == [(2, "cat"), (3, "dan")]
    cat = next(x for x in letters if x["itemIndex"] == 2)
    assert cat["nodeId"] == "loop" and cat["traceId"] == f"{ex.trace_id}-003"
    assert "queue timeout" in str(cat["error"])

    replay = alice_client.post(f"/api/dead-letters/{cat['id']}/replay")
    assert replay.status_code == 201, replay.content
    again = wait_finished(replay.json()["id"])
    assert again.status == "succeeded", again.error
    assert again.input == {"items": users}
    assert again.output == {"o": ["cat#2"]}  # only that item, under its original index
    work = NodeRun.objects.filter(execution=again, node_id="work")
    assert [(r.iteration, r.trace_id) for r in work] == [(2, f"{again.trace_id}-003")]


def test_a_queue_timeout_is_announced_to_the_executions_list(alice, alice_client):
    """The executions list stream (`executions.user.<id>` group) hears of a run that timed
    out in the queue, though no engine ever ran it."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"executions.user.{alice.pk}", channel)
    wf = create(alice_client, blocking_workflow(timeout=300))
    first = run(alice_client, wf, {"ms": 1500, "tag": "first"}).json()
    wait_status(first["id"], {"running"})
    waiting = run(alice_client, wf, {"ms": 1, "tag": "late"}).json()
    wait_status(waiting["id"], {"timed_out"}, timeout=5)

    async def statuses_of_waiting() -> list[str]:
        import asyncio

        seen: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "timed_out" not in seen:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                continue
            if message["execution"]["id"] == waiting["id"]:
                seen.append(message["execution"]["status"])
        return seen

    assert "timed_out" in async_to_sync(statuses_of_waiting)()


def test_queue_rules_are_read_from_each_version_whatever_its_settings_hold(alice: Any) -> None:
    """The engine reads only `settings.queue` of the versions waiting (one statement on
    SQLite); anything but an object there means no queue rules, as `queue_settings` says."""
    from editor.models import Workflow, WorkflowVersion
    from engine.store.queue import queue_settings, version_queue_settings

    workflow = Workflow.objects.create(owner=alice, name="q", definition={}, version=0)
    held = {
        "rules": {"settings": {"queue": {"maxConcurrentRuns": 2, "priority": "lifo", "timeout": 5.5}}},
        "nested": {"settings": {"queue": {"maxSize": 3, "extra": {"deep": [1, "two"]}}, "maxConcurrency": 4}},
        "none": {"settings": {"maxConcurrency": 4}},
        "no settings": {},
        "number": {"settings": {"queue": 7}},
        "text": {"settings": {"queue": "{not an object}"}},
        "list": {"settings": {"queue": [{"maxSize": 1}]}},
        "null": {"settings": {"queue": None}},
    }
    ids = {name: WorkflowVersion.objects.create(workflow=workflow, number=i + 1, definition=d).pk
           for i, (name, d) in enumerate(held.items())}
    read = version_queue_settings(set(ids.values()))
    assert {name: read[pk] for name, pk in ids.items()} == {name: queue_settings(d) for name, d in held.items()}
    assert read[ids["rules"]] == {"maxConcurrentRuns": 2, "priority": "lifo", "timeout": 5.5}
    assert read[ids["text"]] == {} and read[ids["list"]] == {}


def test_a_replayed_dead_letter_cannot_be_discarded_through_the_api_or_the_admin(alice_client, staff, client):
    failing = definition([START, {"id": "boom", "type": "fail", "config": {"message": "payment API down"}}],
                         [("start", "boom")], queue={"deadLetterQueue": True})
    wf = create(alice_client, failing)
    wait_finished(run(alice_client, wf, {"order": 7}).json()["id"])
    letter = DeadLetter.objects.get()
    replay = alice_client.post(f"/api/dead-letters/{letter.id}/replay")
    assert replay.status_code == 201, replay.content
    replay_id = replay.json()["id"]
    wait_finished(replay_id)

    # Its work ran again as #replay_id: "discarded" would hide that, so it is refused, saying where.
    refused = alice_client.post(f"/api/dead-letters/{letter.id}/discard")
    assert refused.status_code == 409 and refused["Content-Type"] == "application/json"
    assert refused.json()["detail"] == (f"this dead letter was already replayed as run #{replay_id}; "
                                        "it cannot be discarded")
    detail = alice_client.get(f"/api/dead-letters/{letter.id}").json()
    assert (detail["state"], detail["replayedExecution"], detail["discardedAt"]) == ("replayed", replay_id, None)
    assert alice_client.get("/api/dead-letters?state=discarded").json() == []

    # The admin's bulk action leaves it replayed too, and says why.
    client.force_login(staff)
    page = client.post("/admin/engine/deadletter/", {"action": "discard_selected", "_selected_action": [letter.id]},
                       follow=True)
    shown = [str(m) for m in page.context["messages"]]
    assert f"Not discarded: #{letter.id}: this dead letter was already replayed as run #{replay_id}; " \
           "it cannot be discarded" in shown
    letter.refresh_from_db()
    assert (letter.state, letter.discarded_at) == ("replayed", None)


def test_a_replayed_item_that_fails_again_is_listed_under_its_own_index(alice_client):
    """`collectErrors` in a dead letter's replay: the replay runs item 2 alone, and its
    entry names item 2 (as its output and trace id do), not its place (0) in the replay."""
    d = loop_definition({"queue": {"deadLetterQueue": True},
                         "parallel": {"onPartialFailure": "continue", "collectErrors": True}},
                        [{"id": "f", "type": "transform", "config": {
                            "operation": "custom", "expression": "if (item === 2) throw new Error('two'); return item;"}}])
    wf = create(alice_client, d, "Items")
    ex = wait_finished(run(alice_client, wf, {"items": [0, 1, 2]}).json()["id"])
    entry = {"index": 2, "error": "Expression threw Error: two (line 1)", "details": {"kind": "thrown"}}
    assert ex.output == {"o": {"results": [0, 1], "errors": [entry]}}
    [letter] = alice_client.get(f"/api/dead-letters?execution={ex.id}&kind=item").json()
    replay = alice_client.post(f"/api/dead-letters/{letter['id']}/replay")
    assert replay.status_code == 201, replay.content
    again = wait_finished(replay.json()["id"])
    assert again.status == "succeeded", again.error
    assert again.output == {"o": {"results": [], "errors": [entry]}}
