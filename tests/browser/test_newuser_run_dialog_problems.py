"""Run from the editor while the workflow has errors, in Chromium.

The footer said "2 errors", but the Run dialog opened as usual; only after "Start run" did
a toast say "Run refused: …". The dialog now says first, naming each node, that the run
will be refused until the problems are fixed.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_run_dialog_names_the_problems_before_start_run(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Broken")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click("[data-testid=palette-http]")
    page.wait_for_selector("[data-testid=issues-summary]")
    page.click("text=▶ Run")
    problems = page.locator("[data-testid=run-problems]")
    problems.wait_for()
    text = problems.inner_text()
    assert "1 problem to fix first" in text and "HTTP Request: URL: is required" in text
    assert page_errors.unexpected() == []
