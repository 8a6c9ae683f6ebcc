"""Versions and workflows the lists carry only as a size marker, in Chromium.

The lists answer definitions whole only while they fit in FLOWMAESTRO_PAGE_MAX_BYTES (4 MB):
with three 1.5 MB versions (or workflows) the oldest comes as `{"truncated", "size", "url"}`.
The version dialog still restores it, and the workflow list still renames and duplicates it,
fetching the whole definition first."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from editor.models import Workflow
from editor.services import workflow_create, workflow_update
from tests.conftest import SIMPLE_DEFINITION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def big(n: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["config"]["values"] = {"version": n, "pad": "x" * 1_500_000}
    return d


def test_an_old_version_past_the_budget_is_restored_from_its_own_url(logged_in_page: Any) -> None:
    page = logged_in_page
    casey = get_user_model().objects.get(username="casey")
    workflow = workflow_create(owner=casey, name="Often saved", definition=big(1))
    for n in (2, 3):
        workflow = workflow_update(workflow=workflow, user=casey, definition=big(n))

    listed = page.request.get(f"/api/workflows/{workflow.pk}/versions").json()
    assert [("truncated" in v["definition"]) for v in listed] == [False, False, True]

    page.goto(f"/workflows/{workflow.pk}/")
    page.click("[data-testid=open-versions]")
    page.wait_for_selector("[data-testid=version-1]")
    assert "nodes" not in page.inner_text("[data-testid=version-1]")  # no count without the definition
    # View fetches it, and opens it in its row.
    page.click("[data-testid=view-1]")
    page.wait_for_selector("[data-testid=version-1] [data-testid=version-view-1]", timeout=15_000)
    assert "v1: 3 nodes" in page.inner_text("[data-testid=version-view-1]")
    page.click("[data-testid=restore-1]")
    page.wait_for_selector("[data-testid=toast]:has-text('Restored version 1')", timeout=15_000)
    restored = Workflow.objects.get(pk=workflow.pk)
    assert restored.version == 4
    assert restored.definition["nodes"][1]["config"]["values"]["version"] == 1


def test_a_workflow_past_the_list_budget_is_renamed_and_duplicated_whole(logged_in_page: Any) -> None:
    page = logged_in_page
    casey = get_user_model().objects.get(username="casey")
    oldest = workflow_create(owner=casey, name="Oldest", definition=big(1))
    for n in (2, 3):
        workflow_create(owner=casey, name=f"Newer {n}", definition=big(n))
    listed = {w["id"]: w["definition"] for w in page.request.get("/api/workflows").json()}
    assert "truncated" in listed[oldest.pk]

    page.goto("/workflows/")
    row = f"[data-testid=workflow-row-{oldest.pk}]"
    page.click(f"{row} [data-testid=rename]")
    page.fill(f"{row} [data-testid=rename-input]", "Renamed")
    page.click(f"{row} [data-testid=rename-save]")
    page.wait_for_selector("text=Renamed to “Renamed”", timeout=15_000)
    page.wait_for_selector(f"{row} a:text-is('Renamed')")  # the reloaded list: Duplicate copies that row
    renamed = Workflow.objects.get(pk=oldest.pk)
    assert renamed.name == "Renamed" and renamed.definition["nodes"][1]["config"]["values"]["version"] == 1

    page.click(f"{row} [data-testid=duplicate]")
    page.wait_for_selector("text=Created “Renamed (copy)”", timeout=15_000)
    copy_ = Workflow.objects.get(name="Renamed (copy)")
    assert copy_.definition["nodes"][1]["config"]["values"] == {"version": 1, "pad": "x" * 1_500_000}
