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


def _unbounded_counts(queries: list[dict[str, Any]]) -> list[str]:
    """The COUNT statements over node runs or events that no LIMIT bounds (each reads every
    index entry of the execution: millions for a big loop)."""
    return [q["sql"] for q in queries
            if "COUNT(" in q["sql"].upper() and ("engine_noderun" in q["sql"] or "engine_event" in q["sql"])
            and "LIMIT" not in q["sql"].upper()]


def test_a_big_execution_page_and_its_lists_count_no_further_than_a_bound(
        admin_client_: Client, execution: Execution) -> None:
    """A loop over a million items has millions of node runs and events: its admin page
    counted them all (COUNT over the execution's rows) on every view. The page shows the
    first rows, links to the full lists and says "10,000+" past the cap; the lists page
    through the rows with the same capped count and no whole-table "N total"."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    many = 10_050
    now = timezone.now()
    NodeRun.objects.bulk_create(
        [NodeRun(id=f"{i:032x}", execution=execution, node_id=f"n{i:05d}", name="work", type="http",
                 status="succeeded", trace_id=execution.trace_id, seq=i + 10) for i in range(many)],
        batch_size=2000)
    Event.objects.bulk_create(
        [Event(execution=execution, seq=i + 10, type="node.succeeded", ts=now, node_id=f"e{i:05d}")
         for i in range(many)], batch_size=2000)

    with CaptureQueriesContext(connection) as page_queries:
        page = admin_client_.get(f"/admin/engine/execution/{execution.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert _unbounded_counts(page_queries.captured_queries) == []
    # What an admin needs: the capped counts, the links to every row, the first rows inline.
    assert f'execution__id__exact={execution.pk}">all 10,000+ node runs</a>' in html
    assert f'execution__id__exact={execution.pk}">all 10,000+ events</a>' in html
    assert "Node runs (first 200)" in html and "Events (first 200)" in html
    assert "n00000" in html and "n00198" in html and "n00199" not in html  # the start's run is the first
    assert "e00000" in html and "e00199" not in html and "e09999" not in html

    for path, first in (("/admin/engine/noderun/", "n10049"), ("/admin/engine/event/", "e10049")):
        with CaptureQueriesContext(connection) as list_queries:
            listing = admin_client_.get(path, {"execution__id__exact": execution.pk})
        assert listing.status_code == 200
        assert _unbounded_counts(list_queries.captured_queries) == []
        text = listing.content.decode()
        assert "10,000+ " in text and first in text  # newest first, 200 a page
        assert " total)" not in text
        second = admin_client_.get(path, {"execution__id__exact": execution.pk, "p": "2"})
        assert second.status_code == 200 and first.replace("100", "098") in second.content.decode()


def test_a_small_execution_page_counts_exactly(admin_client_: Client, execution: Execution) -> None:
    html = admin_client_.get(f"/admin/engine/execution/{execution.pk}/change/").content.decode()
    # Under the cap the counts are exact (the start's node run; the queued and node events).
    assert ">all 1 node runs</a>" in html and ">all 2 events</a>" in html
    listing = admin_client_.get("/admin/engine/event/", {"execution__id__exact": execution.pk}).content.decode()
    assert "\n2 events\n" in listing
