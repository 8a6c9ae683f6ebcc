"""One name per workflow, in Chromium. Probed: a workflow posted with `"name": "Fan"` and
a definition named "Fan-out" was "Fan" in the list and "Fan-out" as the editor's title.
Now both show the workflow's name, and a rename in the editor's title reaches the list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import save
from tests.browser.helpers import api_get, api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def listed_name(page: Any, workflow_id: int) -> str:
    page.goto("/workflows/")
    row = page.locator(f"[data-testid=workflow-row-{workflow_id}]")
    row.wait_for()
    return str(row.inner_text())


def test_the_list_and_the_editor_show_one_name_and_a_title_rename_reaches_the_list(logged_in_page: Any) -> None:
    page = logged_in_page
    definition = fan_out(10)
    assert definition["name"] == "Fan-out"
    workflow_id = api_post(page, "/api/workflows", {"name": "Fan", "definition": definition})["id"]

    assert "Fan" in listed_name(page, workflow_id) and "Fan-out" not in listed_name(page, workflow_id)
    page.goto(f"/workflows/{workflow_id}/")
    title = page.locator("[data-testid=workflow-title]")
    title.wait_for()
    assert title.input_value() == "Fan"

    title.fill("Fan in")
    save(page)
    assert api_get(page, f"/api/workflows/{workflow_id}")["name"] == "Fan in"
    assert "Fan in" in listed_name(page, workflow_id)
    page.goto(f"/workflows/{workflow_id}/")
    page.locator("[data-testid=workflow-title]").wait_for()
    assert page.locator("[data-testid=workflow-title]").input_value() == "Fan in"
