"""Which node a failed run failed at, in Chromium. A Merge whose branch failed ends the run
with "1 of 2 branches failed (at Join)" and a JSON error whose branchErrors carry only the
message: the page never said which branch or node failed, so a user hunted for a red sliver
on the chart. The page now says "Failed: Charge card (branch_b)" under the error, and a click
opens that node run's details (its error, its trace id)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, wait_for_status
from tests.browser.test_newuser_sliver_labels import ONE_BRANCH_FAILS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_run_names_the_node_that_failed(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "One branch fails", "definition": ONE_BRANCH_FAILS})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    line = page.locator("[data-testid=failed-here]")
    line.wait_for()
    # The node that failed, in its branch; not the Join that only counted the failure.
    assert line.inner_text() == "Failed: Charge card (branch_b)"
    page.click("[data-testid=failed-here-node]")
    panel = page.locator("[data-testid=side-panel]")
    panel.wait_for()
    panel.get_by_text("card declined").first.wait_for()  # the node run's details load after the panel opens
    text = panel.inner_text()
    assert "Charge card" in text and "card declined" in text and f"{run['traceId']}-002" in text, text
    assert page_errors.unexpected() == []


def test_a_run_that_succeeded_names_no_failure(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    definition = {**ONE_BRANCH_FAILS, "nodes": [n for n in ONE_BRANCH_FAILS["nodes"] if n["id"] != "boom"],
                  "edges": [e for e in ONE_BRANCH_FAILS["edges"] if "boom" not in (e["source"], e["target"])]}
    workflow = api_post(page, "/api/workflows", {"name": "No failure", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    assert page.locator("[data-testid=failed-here]").count() == 0
    assert page_errors.unexpected() == []
