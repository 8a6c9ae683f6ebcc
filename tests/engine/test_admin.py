"""The admin: workflows with their versions, executions with node runs and events, and
the operator actions (retry, pause/resume/cancel) that go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from editor.models import Workflow
from engine.models import Event, Execution, NodeRun
from engine.services import execution_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def execution(make_workflow: Any, alice: Any) -> Execution:
    execution = execution_start(workflow=make_workflow(), user=alice, input={"who": "admin"}, priority=0)
    NodeRun.objects.create(
        id="a" * 32, execution=execution, node_id="start", name="Start", type="start", status="succeeded",
        trace_id=execution.trace_id, seq=1,
    )
    Event.objects.create(execution=execution, seq=2, type="node.succeeded", ts=timezone.now(), node_id="start")
    return execution


def test_workflow_pages_show_versions(admin_client_: Client, make_workflow: Any) -> None:
    workflow = make_workflow(name="Admin view")
    assert admin_client_.get("/admin/editor/workflow/").status_code == 200
    page = admin_client_.get(f"/admin/editor/workflow/{workflow.pk}/change/")
    assert page.status_code == 200
    assert "Admin view" in page.content.decode()
    assert admin_client_.get(f"/admin/editor/workflowversion/{workflow.versions.get().pk}/change/").status_code == 200


def test_editing_the_definition_in_the_admin_appends_a_version(admin_client_: Client, make_workflow: Any) -> None:
    import json

    workflow = make_workflow()
    definition = dict(workflow.definition)
    definition["nodes"] = [dict(n) for n in definition["nodes"]]
    definition["nodes"][2] = {**definition["nodes"][2], "config": {"value": "from admin"}}
    response = admin_client_.post(
        f"/admin/editor/workflow/{workflow.pk}/change/",
        {
            "owner": workflow.owner_id, "name": workflow.name, "description": "", "definition": json.dumps(definition),
            "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
            "versions-MAX_NUM_FORMS": "1000", "versions-0-id": workflow.versions.get().pk,
            "versions-0-workflow": workflow.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    workflow.refresh_from_db()
    assert workflow.version == 2
    assert workflow.definition["nodes"][2]["config"] == {"value": "from admin"}


def test_execution_pages_list_filter_and_search(admin_client_: Client, execution: Execution) -> None:
    listing = admin_client_.get("/admin/engine/execution/", {"status__exact": "queued"})
    assert listing.status_code == 200
    assert execution.trace_id in listing.content.decode()
    found = admin_client_.get("/admin/engine/execution/", {"q": execution.trace_id}).content.decode()
    assert f"/admin/engine/execution/{execution.pk}/change/" in found
    missing = admin_client_.get("/admin/engine/execution/", {"q": "trace-000000"}).content.decode()
    assert f"/admin/engine/execution/{execution.pk}/change/" not in missing

    page = admin_client_.get(f"/admin/engine/execution/{execution.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "node.succeeded" in html  # the events inline
    assert "execution__id__exact" in html  # links to the full lists
    runs = admin_client_.get("/admin/engine/noderun/", {"execution__id__exact": execution.pk})
    assert runs.status_code == 200 and "aaaaaaaa" in runs.content.decode()
    events = admin_client_.get("/admin/engine/event/", {"execution__id__exact": execution.pk})
    assert events.status_code == 200


def test_retry_action_starts_a_new_execution(admin_client_: Client, execution: Execution) -> None:
    response = admin_client_.post(
        "/admin/engine/execution/", {"action": "retry_selected", "_selected_action": [execution.pk]}, follow=True
    )
    assert response.status_code == 200
    assert Execution.objects.count() == 2
    retried = Execution.objects.exclude(pk=execution.pk).get()
    assert (retried.version_id, retried.input) == (execution.version_id, {"who": "admin"})
    assert "Retried 1" in response.content.decode()


def test_cancel_action_and_a_signal_that_does_not_apply(admin_client_: Client, execution: Execution) -> None:
    response = admin_client_.post(
        "/admin/engine/execution/", {"action": "cancel_selected", "_selected_action": [execution.pk]}, follow=True
    )
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    response = admin_client_.post(
        "/admin/engine/execution/", {"action": "pause_selected", "_selected_action": [execution.pk]}, follow=True
    )
    assert "Did not send pause" in response.content.decode()


def test_workflows_without_versions_are_not_in_the_way(admin_client_: Client, alice: Any) -> None:
    # A workflow row created outside the services (version 0) still renders.
    workflow = Workflow.objects.create(owner=alice, name="bare", definition={})
    assert admin_client_.get(f"/admin/editor/workflow/{workflow.pk}/change/").status_code == 200


def test_resume_action_leaves_a_waiting_approval_to_its_decision(admin_client_: Client, execution: Execution) -> None:
    """The bulk "Resume selected executions" sent a resume without data, which passed a
    waiting approval with the output `{}`: neither approved nor rejected, decided by
    nobody. A run waiting at an approval is left for its Approve / Reject, and the admin
    says so and where; a run paused by hand is resumed as before."""
    execution.status = "paused"
    execution.state = {"awaiting": {"scope": "", "nodeId": "sign_off", "name": "Manager sign-off", "reason": "OK?"}}
    execution.save(update_fields=["status", "state"])
    response = admin_client_.post(
        "/admin/engine/execution/", {"action": "resume_selected", "_selected_action": [execution.pk]}, follow=True
    )
    page = response.content.decode()
    assert "Did not send resume" in page
    assert "waits at the approval “Manager sign-off”" in page and f"/executions/{execution.pk}/" in page
    assert not execution.pending_signals.exists()

    execution.state = {}
    execution.save(update_fields=["state"])
    response = admin_client_.post(
        "/admin/engine/execution/", {"action": "resume_selected", "_selected_action": [execution.pk]}, follow=True
    )
    assert "Sent resume" in response.content.decode()
