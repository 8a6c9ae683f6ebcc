"""An approval that names someone who can never approve, as the editor shows it, in Chromium.

Only a run's owner and staff may approve it (anyone else gets a 404 on the run), so an
`approvers` list naming another user left the approval to its timeout, and nothing said
so while the workflow was drawn. Now the server's validation warns, and the editor shows
the warning with the others: in the problems line ("1 warning"), in the list under it,
and as a badge on the approval node. Names that may approve (the owner, staff) give none.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.browser.helpers import APPROVAL, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_editor_warns_about_an_approver_who_cannot_see_the_runs(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    get_user_model().objects.create_user(username="dana", password="dana-password-1")
    get_user_model().objects.create_user(username="sam", password="sam-password-1", is_staff=True)
    definition = copy.deepcopy(APPROVAL)
    # casey (the owner, logged in) and sam (staff) may approve; dana never sees the run.
    definition["nodes"][1]["config"]["approvers"] = ["casey", "sam", "dana"]
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": definition})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=issues-summary]')?.textContent.trim() === '1 warning'",
        timeout=10_000)
    page.click("[data-testid=issues-summary]")
    line = page.locator("[data-testid=issues] li.fm-issue-warning")
    assert line.count() == 1
    text = line.inner_text()
    assert "'dana' cannot see this workflow's runs: only its owner and staff can approve" in text, text
    assert "casey" not in text and "sam" not in text
    badge = page.locator("[data-testid=node-warning-sign_off]")
    assert badge.count() == 1 and "'dana' cannot see" in (badge.get_attribute("title") or "")
    assert page_errors.unexpected() == []
