"""Re-running from the UI (issue 16), through the HTTP API with the real engine: retry and
dead-letter replay with the original or the latest version and an edited input; bulk
replay; drafts saved with errors but refused at run time; "test this expression" in the
V8 sandbox; demos that call this server's own demo API."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import DeadLetter, Execution
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def js_workflow(expression: str, dlq: bool = True) -> dict[str, Any]:
    """start → a custom transform with `expression` → output of its result."""
    return definition(
        [START, {"id": "calc", "type": "transform", "config": {"operation": "custom", "expression": expression}},
         {"id": "o", "type": "output", "config": {"value": "{{calc}}"}}],
        [("start", "calc"), ("calc", "o")], queue={"deadLetterQueue": dlq},
    )


BROKEN = "input.missing.deeper * 2"
FIXED = "(input.n || 0) * 2"


def create(client: Any, d: dict[str, Any], name: str = "JS") -> int:
    response = client.post("/api/workflows", {"name": name, "definition": d}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def save(client: Any, wf: int, d: dict[str, Any], **extra: Any) -> Any:
    return client.patch(f"/api/workflows/{wf}", {"definition": d, **extra}, format="json")


def failed_run(client: Any, wf: int, input: Any) -> Execution:
    response = client.post(f"/api/workflows/{wf}/run", {"input": input}, format="json")
    assert response.status_code == 201, response.content
    ex = wait_finished(response.json()["id"])
    assert ex.status == "failed"
    return ex


def test_retry_with_latest_version_and_edited_input(alice_client: Any, bob_client: Any) -> None:
    wf = create(alice_client, js_workflow(BROKEN))
    ex = failed_run(alice_client, wf, {"n": 2})
    assert save(alice_client, wf, js_workflow(FIXED)).json()["version"] == 2

    # The original version fails again the same way.
    again = alice_client.post(f"/api/executions/{ex.id}/retry", {}, format="json")
    assert again.status_code == 201, again.content
    assert again.json()["version"] == 1
    assert wait_finished(again.json()["id"]).status == "failed"

    # The latest version with an edited input succeeds with that input.
    latest = alice_client.post(f"/api/executions/{ex.id}/retry", {"version": "latest", "input": {"n": 21}},
                               format="json")
    assert latest.status_code == 201, latest.content
    assert latest.json()["version"] == 2 and latest.json()["input"] == {"n": 21}
    done = wait_finished(latest.json()["id"])
    assert (done.status, done.output) == ("succeeded", {"o": 42})

    assert alice_client.post(f"/api/executions/{ex.id}/retry", {"version": "newest"}, format="json").status_code == 400
    bad_input = alice_client.post(f"/api/executions/{ex.id}/retry", {"input": [1]}, format="json")
    assert bad_input.status_code == 400 and "input" in bad_input.json()["detail"]
    assert bob_client.post(f"/api/executions/{ex.id}/retry", {}, format="json").status_code == 404


def test_replay_a_v2_dead_letter_with_the_fixed_v3(alice_client: Any) -> None:
    wf = create(alice_client, js_workflow("1"))
    assert save(alice_client, wf, js_workflow(BROKEN)).json()["version"] == 2
    ex = failed_run(alice_client, wf, {"n": 5})
    letter = DeadLetter.objects.get(execution=ex)
    assert save(alice_client, wf, js_workflow(FIXED)).json()["version"] == 3

    replay = alice_client.post(f"/api/dead-letters/{letter.id}/replay", {"version": "latest"}, format="json")
    assert replay.status_code == 201, replay.content
    replayed = wait_finished(replay.json()["id"])
    assert replayed.version.number == 3
    assert (replayed.status, replayed.output, replayed.input) == ("succeeded", {"o": 10}, {"n": 5})
    # No new dead letter: the replay succeeded.
    assert DeadLetter.objects.filter(workflow_id=wf).count() == 1


def test_replay_with_edited_input_and_original_version(alice_client: Any) -> None:
    wf = create(alice_client, js_workflow(FIXED.replace("|| 0", "|| null") + " + input.k.z"))
    ex = failed_run(alice_client, wf, {"n": 1})
    letter = DeadLetter.objects.get(execution=ex)
    replay = alice_client.post(f"/api/dead-letters/{letter.id}/replay",
                               {"version": "original", "input": {"n": 1, "k": {"z": 3}}}, format="json")
    assert replay.status_code == 201, replay.content
    replayed = wait_finished(replay.json()["id"])
    assert (replayed.status, replayed.output) == ("succeeded", {"o": 5})
    assert alice_client.post(f"/api/dead-letters/{letter.id}/replay", {"version": "x"}, format="json").status_code == 400


def test_bulk_replay_reports_each_item(alice_client: Any, bob_client: Any) -> None:
    wf = create(alice_client, js_workflow(BROKEN))
    letters = [DeadLetter.objects.get(execution=failed_run(alice_client, wf, {"n": n})) for n in (1, 2)]
    save(alice_client, wf, js_workflow(FIXED))
    # bob's request for alice's letters: not found, nothing replayed.
    stranger = bob_client.post("/api/dead-letters/replay", {"ids": [letters[0].id]}, format="json")
    assert stranger.status_code == 200
    assert stranger.json()["results"] == [{"id": letters[0].id, "status": 404, "error": "No such dead letter."}]

    ids = [letters[0].id, letters[1].id, 999_999]
    answer = alice_client.post("/api/dead-letters/replay", {"ids": ids, "version": "latest"}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["replayed"], body["failed"]) == (2, 1)
    assert [r["id"] for r in body["results"]] == ids
    outputs = sorted(wait_finished(r["execution"]).output["o"] for r in body["results"][:2])
    assert outputs == [2, 4]
    # A second bulk replay of the same letters: each refused as already replayed (409).
    again = alice_client.post("/api/dead-letters/replay", {"ids": ids[:2]}, format="json").json()
    assert [r["status"] for r in again["results"]] == [409, 409]
    assert alice_client.post("/api/dead-letters/replay", {"ids": []}, format="json").status_code == 400
    assert alice_client.post("/api/dead-letters/replay", {"ids": ids, "input": {}}, format="json").status_code == 400


CYCLE = {
    "schemaVersion": 1, "name": "Cycle", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "a", "type": "log", "name": "A", "position": {"x": 200, "y": 0}, "config": {"message": "a"}},
        {"id": "b", "type": "log", "name": "B", "position": {"x": 400, "y": 0}, "config": {"message": "b"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "a"}, {"id": "e2", "source": "a", "target": "b"},
              {"id": "e3", "source": "b", "target": "a"}],
}


def test_a_draft_with_errors_saves_but_does_not_run(alice_client: Any) -> None:
    # Without `draft` the API keeps refusing invalid definitions (SPEC §7).
    refused = alice_client.post("/api/workflows", {"name": "Cycle", "definition": CYCLE}, format="json")
    assert refused.status_code == 400
    created = alice_client.post("/api/workflows", {"name": "Cycle", "definition": CYCLE, "draft": True}, format="json")
    assert created.status_code == 201, created.content
    wf = created.json()["id"]
    assert created.json()["definition"]["edges"][2]["id"] == "e3"
    run = alice_client.post(f"/api/workflows/{wf}/run", {"input": {}}, format="json")
    assert run.status_code == 400
    assert any("cycle" in e["message"] for e in run.json()["errors"]), run.json()
    # A draft must still be loadable: nodes must be a list of objects with ids.
    broken = alice_client.patch(f"/api/workflows/{wf}", {"definition": {"nodes": "x"}, "draft": True}, format="json")
    assert broken.status_code == 400 and broken.json()["errors"][0]["message"] == "nodes must be a list"


def test_test_expression_runs_in_the_sandbox_on_the_last_run(alice_client: Any, bob_client: Any) -> None:
    wf = create(alice_client, js_workflow(FIXED, dlq=False))
    response = alice_client.post(f"/api/workflows/{wf}/run", {"input": {"n": 4}}, format="json")
    ex = wait_finished(response.json()["id"])
    url = f"/api/workflows/{wf}/test-expression"

    on_run = alice_client.post(url, {"code": "input * 10 + calc", "execution": ex.id, "nodeId": "o"}, format="json")
    # `o`'s input in that run is calc's output (8); `calc` is bound to its output as well.
    assert on_run.status_code == 200, on_run.content
    assert on_run.json() == {"ok": True, "value": 88, "logs": []}

    given = alice_client.post(url, {"code": "console.log('hi'); return input.a.length;", "input": {"a": [1, 2]}},
                              format="json").json()
    assert (given["ok"], given["value"], given["logs"]) == (True, 2, ["hi"])

    syntax = alice_client.post(url, {"code": "return {a: 1;}", "input": {}}, format="json").json()
    assert syntax["ok"] is False and syntax["kind"] == "syntax"
    endless = alice_client.post(url, {"code": "while (true) {}", "input": {}}, format="json").json()
    assert endless["ok"] is False and endless["kind"] == "timeout"

    assert bob_client.post(url, {"code": "1"}, format="json").status_code == 404
    assert alice_client.post(url, {"code": "1", "execution": 999_999}, format="json").status_code == 400


def test_demo_workflows_call_the_server_they_were_loaded_from(alice_client: Any, settings: Any) -> None:
    settings.FLOWMAESTRO_SITE_URL = ""
    settings.ALLOWED_HOSTS = ["flows.test", "testserver"]
    loaded = alice_client.post("/api/demo-workflows", {}, format="json", SERVER_NAME="flows.test", SERVER_PORT="9123")
    assert loaded.status_code == 200, loaded.content
    bases = {w["definition"]["settings"].get("variables", {}).get("apiBase") for w in loaded.json()}
    assert bases - {None} == {"http://flows.test:9123/demo-api"}
    settings.FLOWMAESTRO_SITE_URL = "https://flows.example.com"
    again = alice_client.post("/api/demo-workflows", {}, format="json").json()
    assert {w["id"] for w in again} == {w["id"] for w in loaded.json()}  # updated, not duplicated
    bases = {w["definition"]["settings"].get("variables", {}).get("apiBase") for w in again}
    assert bases - {None} == {"https://flows.example.com/demo-api"}


def test_no_demo_node_sits_on_top_of_a_loop() -> None:
    """Demo 5's "Collect Results" used to overlap its Loop: boxes as the canvas draws them
    (nodes 200×64, a loop at least 320×200 and large enough for its body plus 24 px)."""
    from editor.demos import demo_workflows

    for doc in demo_workflows():
        nodes = doc["definition"]["nodes"]
        boxes = {}
        for n in nodes:
            if n.get("parentId"):
                continue
            w, h = (200, 64)
            if n["type"] == "loop":
                body = [b for b in nodes if b.get("parentId") == n["id"]]
                w = max([320] + [b["position"]["x"] + 200 + 24 for b in body])
                h = max([200] + [b["position"]["y"] + 64 + 24 for b in body])
            boxes[n["id"]] = (n["position"]["x"], n["position"]["y"], w, h)
        for a, (ax, ay, aw, ah) in boxes.items():
            for b, (bx, by, bw, bh) in boxes.items():
                if a < b:
                    assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), (doc["name"], a, b)
