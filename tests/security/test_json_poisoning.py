"""JSON that is not JSON (NaN, Infinity, 1e999) or nested absurdly deep never gets into
the engine: a request with it is a 400 that says why, a node run that produces it fails
with that reason, and nothing stored can make a shared view answer 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from editor.models import Workflow
from engine.models import Execution, NodeRun
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def stringify_as(text: str) -> str:
    """A custom transform that makes the sandbox hand back `text` as its JSON result: it
    replaces JSON.stringify for its own value, keeping it for the wrapper's reply head."""
    return ("const real = JSON.stringify; "
            "JSON.stringify = (v, ...r) => (v && typeof v === 'object' && 'ok' in v) ? real(v, ...r) : "
            f"{json.dumps(text)}; return 1;")


def poisoned(text: str) -> dict[str, Any]:
    return definition(
        [START, {"id": "poison", "type": "transform", "config": {"operation": "custom", "expression": stringify_as(text)}},
         {"id": "out", "type": "output", "name": "out", "config": {"value": "{{poison}}"}}],
        [("start", "poison"), ("poison", "out")],
    )


# -- the engine: a node run that produces it fails, with the reason --------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": {"b": -Infinity}}', "1e999",
                                  '{"x": [1e400]}'])
def test_a_sandbox_result_that_is_not_finite_json_fails_its_node_run(alice, text):
    ex = run(alice, poisoned(text))
    assert ex.status == "failed"
    node_run = NodeRun.objects.get(execution=ex, node_id="poison")
    assert node_run.status == "failed"
    message = node_run.error["message"]
    assert "finite" in message, message
    assert ex.error is not None  # the execution says it failed, and is not left running


def test_a_sandbox_result_nested_past_the_bound_fails_its_node_run(alice, settings):
    ex = run(alice, poisoned(nested(950)))
    assert ex.status == "failed"
    node_run = NodeRun.objects.get(execution=ex, node_id="poison")
    assert node_run.status == "failed"
    assert "nested deeper than 128 levels" in node_run.error["message"]
    assert node_run.output is None


def test_a_value_at_the_bound_is_kept(alice):
    ex = run(alice, poisoned(nested(128)))
    assert ex.status == "succeeded", ex.error
    assert json.dumps(NodeRun.objects.get(execution=ex, node_id="poison").output) == nested(128).replace("][", "], [")


def test_a_deep_output_built_by_javascript_itself_fails_its_node_run(alice):
    d = definition(
        [START, {"id": "deep", "type": "transform", "config": {
            "operation": "custom", "expression": "let v = []; for (let i = 0; i < 950; i++) v = [v]; return v;"}}],
        [("start", "deep")],
    )
    ex = run(alice, d)
    node_run = NodeRun.objects.get(execution=ex, node_id="deep")
    assert (ex.status, node_run.status) == ("failed", "failed")
    assert "nested deeper than" in node_run.error["message"]


# -- the API: a 400 that names the problem, and nothing stored --------------------------------


def deep_object(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cur = root
    for _ in range(depth - 1):
        cur["a"] = {}
        cur = cur["a"]
    return root


def run_body(value_text: str) -> str:
    """A run request whose input's `a` is `value_text`, verbatim (not valid Python JSON)."""
    return '{"input": {"a": ' + value_text + "}}"


def post(client, url: str, body: str):
    return client.post(url, body, content_type="application/json")


def test_a_definition_nested_500_deep_is_a_400(alice_client, simple_definition):
    d = dict(simple_definition, settings={"variables": {"deep": deep_object(500)}})
    response = post(alice_client, "/api/workflows", json.dumps({"name": "deep", "definition": d}))
    assert response.status_code == 400, response.content
    assert "nested deeper than 64 levels" in response.json()["detail"]
    assert not Workflow.objects.exists()


def test_a_run_input_1000_deep_is_a_400(alice_client, make_workflow):
    wf = make_workflow()
    response = post(alice_client, f"/api/workflows/{wf.id}/run", run_body(nested(1000)))
    assert response.status_code == 400, response.content
    assert "nested deeper than 64 levels" in response.json()["detail"]
    # …and one far past Python's recursion limit too.
    response = post(alice_client, f"/api/workflows/{wf.id}/run", run_body(nested(100_000)))
    assert response.status_code == 400, response.content
    assert "nested deeper than 64 levels" in response.json()["detail"]
    assert not Execution.objects.exists()


def test_the_depth_bound_is_a_setting(alice_client, make_workflow, settings):
    wf = make_workflow()
    settings.FLOWMAESTRO_JSON_MAX_DEPTH = 8
    assert post(alice_client, f"/api/workflows/{wf.id}/run", run_body(nested(6))).status_code == 201
    response = post(alice_client, f"/api/workflows/{wf.id}/run", run_body(nested(7)))
    assert response.status_code == 400
    assert "nested deeper than 8 levels" in response.json()["detail"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_in_a_run_input_are_a_400(alice_client, make_workflow, number):
    wf = make_workflow()
    response = post(alice_client, f"/api/workflows/{wf.id}/run", run_body(number))
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "finite" in detail and number.lstrip("-") in detail
    assert not Execution.objects.exists()


def test_non_finite_numbers_in_a_definition_are_a_400(alice_client, simple_definition):
    body = json.dumps({"name": "nan", "definition": simple_definition}).replace('"maxConcurrency": 4',
                                                                                  '"maxConcurrency": 1e999')
    response = post(alice_client, "/api/workflows", body)
    assert response.status_code == 400, response.content
    assert "1e999" in response.json()["detail"]
    assert not Workflow.objects.exists()


def test_non_finite_numbers_in_signal_data_are_a_400(alice, alice_client, make_workflow):
    wf = make_workflow()
    ex = Execution.objects.create(workflow=wf, version=wf.versions.first(), owner=alice, status="paused",
                                  trace_id="t-signal", input={})
    response = post(alice_client, f"/api/executions/{ex.id}/signal", '{"type": "resume", "data": {"ok": NaN}}')
    assert response.status_code == 400, response.content
    assert "NaN" in response.json()["detail"]
    assert not ex.pending_signals.exists()


# -- reads: one odd stored value never breaks a shared view ------------------------------------


def store_raw(model: Any, pk: Any, field: str, text: str) -> None:
    """Write `text` into a JSON column as is, as an older release could have stored it."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [text, pk])


def test_a_deep_or_odd_stored_value_never_makes_a_list_detail_or_admin_page_answer_500(
    alice, alice_client, staff_client, client_for, django_user_model
):
    ex = run(alice, definition([START, {"id": "out", "type": "output", "name": "out", "config": {"value": 1}}],
                               [("start", "out")]))
    node_run = NodeRun.objects.filter(execution=ex).first()
    assert node_run is not None
    store_raw(Execution, ex.id, "output", nested(950))
    store_raw(Execution, ex.id, "input", '{"big": ' + "9" * 5000 + "}")  # more digits than Python converts
    store_raw(NodeRun, node_run.id, "output", nested(950))
    from engine.models import Event

    event = Event.objects.filter(execution=ex).last()
    assert event is not None
    store_raw(Event, event.id, "data", nested(990))  # about the most SQLite accepts
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    admin_client = client_for(None)
    admin_client.force_login(admin)

    for client in (alice_client, staff_client):
        listed = client.get("/api/executions")
        assert listed.status_code == 200, listed.content[:300]
        row = next(r for r in listed.json() if r["id"] == ex.id)
        assert "nested deeper than 256 levels" in row["output"]["unreadable"]
        # List rows cut values over 4 KB without reading them (issue 12): this one is 5 KB.
        assert row["input"] == {"truncated": True, "size": 5009, "url": f"/api/executions/{ex.id}/input"}
        # The link answers the stored text as it is (never decoded), never a 500.
        whole = client.get(row["input"]["url"])
        assert whole.status_code == 200, whole.content[:300]
        assert whole.content.replace(b" ", b"").startswith(b'{"big":9999')
    detail = alice_client.get(f"/api/executions/{ex.id}")
    assert detail.status_code == 200
    assert "unreadable" in detail.json()["input"] and "unreadable" in detail.json()["output"]
    assert "unreadable" in next(r for r in detail.json()["nodeRuns"] if r["id"] == node_run.id)["output"]
    assert alice_client.get(f"/api/executions/{ex.id}/events").status_code == 200
    for url in (f"/admin/engine/execution/{ex.id}/change/", "/admin/engine/execution/",
                f"/admin/engine/noderun/{node_run.id}/change/", f"/admin/engine/event/{event.id}/change/"):
        page = admin_client.get(url)
        assert page.status_code == 200, (url, page.status_code)


def test_a_webhook_body_with_a_non_finite_number_or_nested_too_deep_is_a_400(alice_client, make_workflow):
    wf = make_workflow()
    hook = alice_client.post(f"/api/workflows/{wf.id}/webhooks", {}, format="json")
    assert hook.status_code == 201, hook.content
    url = hook.json()["url"].replace("http://testserver", "")
    for body, problem in (('{"a": 1e999}', "1e999"), ('{"a": -Infinity}', "Infinity"),
                          ('{"a": ' + nested(1000) + "}", "nested deeper than 64 levels")):
        response = APIClient().generic("POST", url, body.encode(), content_type="application/json")
        assert response.status_code == 400, response.content
        assert problem in response.json()["detail"]
    assert not Execution.objects.exists()


def test_the_admin_forms_refuse_non_finite_numbers_and_deep_json_instead_of_a_500(
    alice, client_for, django_user_model, simple_definition
):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = client_for(None)
    client.force_login(admin)
    good = json.dumps(simple_definition)
    for definition_text, problem in ((good.replace('"maxConcurrency": 4', '"maxConcurrency": NaN'), "not finite"),
                                     (good.replace('"maxConcurrency": 4', '"maxConcurrency": 1e999'), "not finite"),
                                     (good.replace('"settings": {', '"settings": {"deep": ' + nested(80) + ", "),
                                      "nested deeper than 64 levels")):
        page = client.post("/admin/editor/workflow/add/", {
            "owner": alice.pk, "name": "from the admin", "description": "", "definition": definition_text,
            "retention_days": "", "retention_keep_last": ""})
        assert page.status_code == 200, page.status_code  # the form again, with the reason
        assert problem in page.content.decode()
    assert not Workflow.objects.exists()
