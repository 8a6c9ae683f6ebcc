"""A webhook caller that waits for the result gets the run's output and error bounded like
every other answer: whole up to the value cap, else the `{"truncated": true, "size", "url"}`
marker of `GET /api/executions/{id}`.

Found by the attacker pass of 2026-11-30: `POST /hooks/{token}?wait=` answered the output
whole, decoded and encoded again in the request's thread, however big: a workflow whose
output nodes each return the 2 MB body answered a 20 MB response to a caller without a
login, while the execution API (for the owner, logged in) carried the marker."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import create_webhook
from tests.engine.runs import START, definition

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 100_000  # FLOWMAESTRO_PAGE_MAX_BYTES / 8


def echoing(outputs: int) -> dict:
    nodes = [START, *({"id": f"o{i}", "type": "output", "name": f"O{i}", "config": {"value": "{{input.blob}}"}}
                      for i in range(outputs))]
    return definition(nodes, [("start", f"o{i}") for i in range(outputs)])


def call(url: str, body: dict) -> object:
    return APIClient().generic("POST", url.replace("http://testserver", "") + "?wait=20", json.dumps(body).encode(),
                               content_type="application/json")


@override_settings(FLOWMAESTRO_PAGE_MAX_BYTES=8 * CAP)
def test_a_big_output_is_answered_as_the_truncated_marker(alice_client):
    workflow = alice_client.post("/api/workflows", {"name": "Echo", "definition": echoing(10)}, format="json").json()
    hook = create_webhook(alice_client, workflow["id"])
    answer = call(hook["url"], {"blob": "x" * 50_000})  # 10 outputs of 50 kB: 500 kB of output
    assert answer.status_code == 200, answer.content[:300]
    body = answer.json()
    assert body["status"] == "succeeded"
    assert body["output"] == {"truncated": True, "size": body["output"]["size"],
                              "url": f"/api/executions/{body['executionId']}/output"}
    assert body["output"]["size"] > CAP
    assert len(answer.content) < 2_000
    # The whole value stays where the marker points, for the workflow's owner.
    whole = alice_client.get(body["output"]["url"])
    assert whole.status_code == 200 and len(whole.json()) == 10

    # A small output is answered whole, as before.
    small = call(hook["url"], {"blob": "hi"})
    assert small.status_code == 200
    assert small.json()["output"] == {f"O{i}": "hi" for i in range(10)}
    assert small.json()["error"] is None
