"""The NUL character (`\\u0000`) is valid in a JSON string but PostgreSQL's jsonb cannot
hold it ("unsupported Unicode escape sequence"). Probed on a live server: SQLite stored it,
so the same workflow, input or node output that works on one database failed on the other.
Now it is refused where it enters, on both databases alike, with a reason that names it:
a request body is a 400 and a node output that holds one fails that node run only."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Execution, NodeRun
from tests.conftest import create_webhook
from tests.engine.runs import START, definition, run, start_run, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def _post(client: APIClient, url: str, raw: bytes) -> Any:
    return client.generic("POST", url.replace("http://testserver", ""), raw, content_type="application/json")


@pytest.mark.parametrize("body", [b'{"input": {"a": "x\\u0000y"}}', b'{"input": {"k\\u0000": 1}}',
                                  b'{"input": {"a": ["\\u0000"]}}'])
def test_a_run_input_with_a_nul_character_is_a_400(alice_client, make_workflow, body):
    workflow = make_workflow()
    answer = _post(alice_client, f"/api/workflows/{workflow.pk}/run", body)
    assert answer.status_code == 400, answer.content
    assert "NUL" in answer.json()["detail"]
    assert Execution.objects.count() == 0


def test_an_escaped_backslash_before_u0000_is_only_text(alice_client, make_workflow):
    # `"\\u0000"` in JSON is a backslash followed by "u0000": six ordinary characters.
    workflow = make_workflow()
    answer = _post(alice_client, f"/api/workflows/{workflow.pk}/run", b'{"input": {"who": "\\\\u0000"}}')
    assert answer.status_code == 201, answer.content
    assert wait_finished(answer.json()["id"]).input == {"who": "\\u0000"}


def test_definitions_webhook_bodies_and_schedules_with_a_nul_character_are_a_400(alice_client, make_workflow,
                                                                                 simple_definition):
    workflow = make_workflow()
    simple_definition["nodes"][1]["config"]["values"]["greeting"] = "a\u0000b"
    assert alice_client.post("/api/workflows", {"name": "n", "definition": simple_definition},
                             format="json").status_code == 400
    assert alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": simple_definition, "draft": True},
                              format="json").status_code == 400
    hook = create_webhook(alice_client, workflow.pk)
    answer = _post(APIClient(), hook["url"], b'{"who": "\\u0000"}')
    assert answer.status_code == 400 and "NUL" in answer.json()["detail"]
    schedule = _post(alice_client, f"/api/workflows/{workflow.pk}/schedules",
                     b'{"cron": "0 9 * * *", "enabled": false, "input": {"a": "\\u0000"}}')
    assert schedule.status_code == 400
    assert Execution.objects.count() == 0


def test_a_node_output_with_a_nul_character_fails_that_node_run_only(alice, bob, alice_client):
    poison = definition([START, {"id": "t", "type": "transform",
                                 "config": {"operation": "custom", "expression": "return {k: 'a\\u0000b'}"}}],
                        [("start", "t")])
    fine = definition([START, {"id": "t", "type": "transform", "config": {"operation": "custom", "expression": "1+1"}}],
                      [("start", "t")])
    others = [start_run(bob, fine) for _ in range(5)]
    ex = run(alice, poison)
    assert ex.status == "failed"
    error = NodeRun.objects.get(execution=ex, node_id="t").error
    assert "NUL" in str(error), error
    assert [wait_finished(other.pk).status for other in others] == ["succeeded"] * 5
    assert alice_client.get("/api/executions").status_code == 200
    assert alice_client.get(f"/api/executions/{ex.pk}").status_code == 200


@pytest.mark.parametrize("code", ["console.log('a\\u0000b'); return 1", "throw new Error('a\\u0000b')",
                                  "console.log({['k\\u0000']: 1}); throw 'x\\u0000'",
                                  "console.log('\\ud800'); throw new Error('\\udc00')"])
def test_log_lines_and_errors_with_a_nul_or_a_lone_surrogate_are_kept_readable(alice, alice_client, code):
    d = definition([START, {"id": "t", "type": "transform", "config": {"operation": "custom", "expression": code}}],
                   [("start", "t")])
    ex = run(alice, d)
    # Whatever the script did, its run ends as the script says, not as a refused database write.
    assert "could not be saved" not in str(ex.error), ex.error
    assert alice_client.get(f"/api/executions/{ex.pk}").status_code == 200
    assert alice_client.get(f"/api/executions/{ex.pk}/events").status_code == 200
    assert alice_client.get(f"/api/executions/{ex.pk}/timeline").status_code == 200
    texts = str(ex.error) + str(NodeRun.objects.get(execution=ex, node_id="t").error) + str(
        [e.data for e in ex.events.all()])
    assert "\ufffd" in texts, texts  # the character is shown as the replacement character
