"""A request body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is a JSON 400 naming the bound,
also under DEBUG (which `make run` serves with).

Found by the attacker pass: without DEBUG Django's handler400 answered JSON, but under
DEBUG the refusal bypasses it and a 3 MB `POST /api/workflows` or webhook call got Django's
HTML debug page (with the request's headers and the settings) instead of the API's JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from editor.models import Workflow
from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION, create_webhook

pytestmark = pytest.mark.django_db

BIG = json.dumps({"name": "x" * (3 << 20), "definition": SIMPLE_DEFINITION})


@pytest.mark.parametrize("debug", [True, False])
def test_a_body_over_the_bound_is_a_json_400_naming_it(alice_client: Any, settings: Any, debug: bool):
    settings.DEBUG = debug
    answer = alice_client.post("/api/workflows", BIG, content_type="application/json")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert "2621440 bytes" in answer.json()["detail"], answer.json()
    assert not Workflow.objects.exists()


def test_a_webhook_call_over_the_bound_is_a_json_400(alice_client: Any, client: Any, settings: Any):
    settings.DEBUG = True
    workflow = alice_client.post("/api/workflows", {"name": "Hooked", "definition": SIMPLE_DEFINITION},
                                 format="json").json()
    hook = create_webhook(alice_client, workflow["id"])
    answer = client.post(hook["url"].split("testserver")[-1], BIG, content_type="application/json")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert "2621440 bytes" in answer.json()["detail"]
    assert not Execution.objects.exists()
