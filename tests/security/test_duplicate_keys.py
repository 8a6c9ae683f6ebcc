"""A request body that names a key twice in one object is a 400 that says which key and
where, at any depth, instead of Python's parser keeping the last one silently (a run
asked for at priority 9 and 0 started at 0 with a 201; a definition with two `config`
keys saved the one its author did not look at)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from editor.models import Schedule, Workflow
from engine.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def post(client: APIClient, url: str, body: str):
    return client.generic("POST", url, body.encode(), content_type="application/json")


def test_a_run_request_with_a_key_twice_is_a_400_and_starts_nothing(alice_client, make_workflow):
    wf = make_workflow()
    response = post(alice_client, f"/api/workflows/{wf.id}/run", '{"input": {}, "priority": 9, "priority": 0}')
    assert response.status_code == 400, response.content
    assert "duplicate key 'priority' in the request body" in response.json()["detail"]
    assert not Execution.objects.exists()


def test_a_definition_with_a_key_twice_deep_inside_is_a_400_naming_its_path(alice_client, simple_definition):
    text = json.dumps({"name": "twice", "definition": simple_definition})
    # The set node's `values` names `greeting` a second time.
    twice = text.replace('"greeting": "hello {{input.who}}"', '"greeting": "hello {{input.who}}", "greeting": "bye"')
    assert twice != text
    response = post(alice_client, "/api/workflows", twice)
    assert response.status_code == 400, response.content
    assert ("duplicate key 'greeting' in definition.nodes[1].config.values (the request body)"
            in response.json()["detail"])
    assert not Workflow.objects.exists()


def test_the_same_key_in_different_objects_is_fine(alice_client, make_workflow):
    wf = make_workflow()
    body = '{"input": {"who": "x", "inner": {"who": "y", "list": [{"who": 1}, {"who": 2}]}}}'
    response = post(alice_client, f"/api/workflows/{wf.id}/run", body)
    assert response.status_code == 201, response.content
    assert Execution.objects.get().input == {"who": "x", "inner": {"who": "y", "list": [{"who": 1}, {"who": 2}]}}


def test_a_webhook_body_with_a_key_twice_is_a_400(alice_client, make_workflow):
    wf = make_workflow()
    hook = alice_client.post(f"/api/workflows/{wf.id}/webhooks", {}, format="json")
    assert hook.status_code == 201, hook.content
    url = hook.json()["url"].replace("http://testserver", "")
    response = post(APIClient(), url, '{"order": {"id": 1, "items": [{"sku": "a", "sku": "b"}]}}')
    assert response.status_code == 400, response.content
    assert "duplicate key 'sku' in order.items[0] (the request body)" in response.json()["detail"]
    assert not Execution.objects.exists()


def test_the_admin_workflow_form_refuses_a_key_twice_and_shows_the_text_as_typed(admin_client, make_workflow):
    workflow = make_workflow()
    text = json.dumps(workflow.definition)
    twice = text.replace('"greeting": "hello {{input.who}}"', '"greeting": "hello {{input.who}}", "greeting": "bye"')
    assert twice != text
    page = admin_client.post(f"/admin/editor/workflow/{workflow.pk}/change/", {
        "owner": workflow.owner_id, "name": workflow.name, "description": "", "definition": twice,
        "retention_days": "", "retention_keep_last": "",
        "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000", "versions-0-id": workflow.versions.get().pk,
        "versions-0-workflow": workflow.pk})
    assert page.status_code == 200, page.status_code  # the form again, not a redirect to the list
    html = page.content.decode()
    assert ("duplicate key &#x27;greeting&#x27; in nodes[1].config.values (the definition): each key may appear "
            "once in an object") in html
    # Both values are still in the box, for the person to choose from.
    assert "&quot;greeting&quot;: &quot;bye&quot;" in html and "hello {{input.who}}" in html
    workflow.refresh_from_db()
    assert workflow.version == 1 and workflow.definition["nodes"][1]["config"]["values"] == {
        "greeting": "hello {{input.who}}"}


def test_the_admin_schedule_form_refuses_a_key_twice(admin_client, make_workflow):
    workflow = make_workflow()
    page = admin_client.post("/admin/editor/schedule/add/", {
        "workflow": workflow.pk, "name": "", "cron": "0 9 * * *", "timezone": "UTC",
        "input": '{"who": "a", "who": "b"}', "enabled": "on", "catch_up": "latest"})
    assert page.status_code == 200, page.status_code
    assert "duplicate key &#x27;who&#x27; in the input" in page.content.decode()
    assert not Schedule.objects.exists()
