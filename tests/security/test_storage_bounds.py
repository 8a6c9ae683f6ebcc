"""Per-user storage bounds: a user keeps at most FLOWMAESTRO_MAX_WORKFLOWS_PER_USER
workflows and a workflow at most FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW versions.

Before, only the request rate bounded them: one user could store workflows and versions
(each save of a changed definition is one) until the disk was full. Past the workflow bound
a create is a 409 that stores nothing; past the version bound a save first removes the
oldest versions no execution ran on (the current one stays: schedules and webhooks run it),
and is a 409 only when none can go."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from editor.models import Workflow, WorkflowVersion
from engine import services as engine_services
from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db


def numbered(n: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["config"]["values"]["n"] = n
    d["name"] = "Often saved"  # the workflow's: the server writes it into every definition
    return d


def create(client: Any, name: str) -> Any:
    return client.post("/api/workflows", {"name": name, "definition": numbered(0)}, format="json")


def test_a_workflow_past_the_users_bound_is_a_409_and_nothing_is_stored(alice, alice_client, bob_client, settings):
    settings.FLOWMAESTRO_MAX_WORKFLOWS_PER_USER = 3
    ids = [create(alice_client, f"w{i}").json()["id"] for i in range(3)]
    refused = create(alice_client, "one too many")
    assert refused.status_code == 409
    assert refused["Content-Type"].startswith("application/json")
    assert "3 workflows" in refused.json()["detail"] and "delete one" in refused.json()["detail"]
    assert Workflow.objects.filter(owner=alice).count() == 3
    assert not Workflow.objects.filter(name="one too many").exists()
    assert not WorkflowVersion.objects.filter(workflow__name="one too many").exists()
    # Every other way of creating one meets the same bound.
    assert alice_client.post(f"/api/workflows/{ids[0]}/duplicate").status_code == 409
    assert alice_client.post("/api/demo-workflows", {}, format="json").status_code == 409
    assert Workflow.objects.filter(owner=alice).count() == 3
    # It is per user, and deleting one makes room.
    assert create(bob_client, "bob's").status_code == 201
    assert alice_client.delete(f"/api/workflows/{ids[0]}").status_code == 204
    assert create(alice_client, "now it fits").status_code == 201


def test_saving_past_the_version_bound_removes_the_oldest_unused_versions(alice, alice_client, settings):
    settings.FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW = 3
    workflow_id = create(alice_client, "Often saved").json()["id"]
    workflow = Workflow.objects.get(pk=workflow_id)

    def save(n: int) -> Any:
        return alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": numbered(n)}, format="json")

    def numbers() -> list[int]:
        return [row["number"] for row in alice_client.get(f"/api/workflows/{workflow_id}/versions").json()]

    def run_current() -> Execution:
        workflow.refresh_from_db()
        return engine_services.execution_start(workflow=workflow, user=alice, input={})

    assert save(1).status_code == 200 and save(2).status_code == 200
    assert numbers() == [3, 2, 1]
    assert save(3).status_code == 200
    assert numbers() == [4, 3, 2]  # version 1 went: nothing ran on it
    pinned = run_current()  # an execution on version 4
    assert save(4).status_code == 200 and save(5).status_code == 200
    assert numbers() == [6, 5, 4]  # 2 and 3 went, 4 stays: an execution ran on it
    assert alice_client.get(f"/api/executions/{pinned.pk}").status_code == 200
    assert alice_client.get(f"/api/workflows/{workflow_id}/versions/4").json()["definition"] == numbered(3)
    run_current()  # on 6, the current one
    assert save(6).status_code == 200
    assert numbers() == [7, 6, 4]  # 5 went, a number is never reused
    run_current()  # on 7: now every version is needed

    refused = save(7)
    assert refused.status_code == 409
    assert "delete old executions" in refused.json()["detail"]
    assert numbers() == [7, 6, 4]
    workflow.refresh_from_db()
    assert workflow.version == 7 and workflow.definition == numbered(6)
    # Removing the executions that held them makes room again.
    Execution.objects.filter(workflow=workflow).exclude(pk=pinned.pk).delete()
    assert save(7).status_code == 200
    assert numbers() == [8, 7, 4]


def test_the_admin_refuses_a_workflow_past_the_owners_bound_with_a_form_error(client, alice, django_user_model,
                                                                              settings):
    settings.FLOWMAESTRO_MAX_WORKFLOWS_PER_USER = 1
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    form = {"owner": alice.pk, "name": "from the admin", "description": "", "definition": json.dumps(numbered(0)),
            "retention_days": "", "retention_keep_last": "",
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"}
    assert client.post("/admin/editor/workflow/add/", form).status_code == 302
    again = client.post("/admin/editor/workflow/add/", {**form, "name": "second"})
    assert again.status_code == 200
    assert "the most one user can keep" in again.content.decode()
    assert Workflow.objects.filter(owner=alice).count() == 1
