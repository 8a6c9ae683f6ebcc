"""A run paused by hand, as the executions list offers it, in Chromium.

Every paused row offered "Approve / reject…", also a run someone paused from its
timeline; clicking it only said "Run #N is paused, not waiting for an approval", with
no way to resume it from the list. The row's button now resumes such a run (after a
confirmation), and still opens the decision for a run waiting at an approval.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = "[data-testid=execution-row][data-execution-id='{}']"


def test_a_run_paused_by_hand_can_be_resumed_from_the_list(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(1, 400)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3]}})
    api_post(page, f"/api/executions/{run['id']}/signal", {"type": "pause", "reason": "lunch"})
    for _ in range(100):
        if api_get(page, f"/api/executions/{run['id']}")["status"] == "paused":
            break
        page.wait_for_timeout(100)

    page.goto("/executions/")
    row = page.locator(ROW.format(run["id"]) + "[data-status=paused]")
    row.wait_for()
    button = row.locator("[data-testid=row-approve]")
    assert button.inner_text() == "Resume…"
    assert row.locator("[data-testid=row-status]").inner_text() == "paused"
    button.click()
    dialog = page.locator("[data-testid=resume-dialog]")
    dialog.wait_for()
    assert f"#{run['id']}" in dialog.inner_text()
    dialog.locator("[data-testid=resume-confirm]").click()
    page.locator(ROW.format(run["id"]) + "[data-status=succeeded]").wait_for(timeout=20_000)
    assert page_errors.unexpected() == []
