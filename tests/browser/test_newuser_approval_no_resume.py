"""A run waiting at an approval, on its timeline, in Chromium.

The page offered "Resume…" (with a JSON box prefilled `{}`) beside Approve… and Reject….
A new user who pressed it passed the approval with the output `{}`: neither approved nor
rejected, so a `condition` on `{{sign_off.approved}}` after it took its false branch as if
someone had rejected, with nothing on the page saying a decision was skipped. While an
approval waits, its decision is the way on; Resume shows for a run paused by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_get, api_post, wait_for_status
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_waiting_approval_offers_its_decision_and_no_bare_resume(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    execution_id = run_until_paused(page, workflow["id"])
    page.wait_for_selector("[data-testid=approval-approve]")
    assert page.locator("[data-testid=signal-resume]").count() == 0
    assert page.locator("[data-testid=signal-cancel]").count() == 1

    page.click("[data-testid=approval-approve]")
    page.click("[data-testid=approval-dialog-approve]")
    wait_for_status(page, "succeeded")
    assert api_get(page, f"/api/executions/{execution_id}")["output"]["Decision"]["approved"] is True
    assert page_errors.unexpected() == []
