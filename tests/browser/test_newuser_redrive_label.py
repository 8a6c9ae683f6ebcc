"""The redrive button for a selected loop item, in Chromium: it named the loop by its node
id ("Redrive item 1 of loop loop"); it now names it as the canvas and the timeline do
("Redrive item 1 of Parallel Loop")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_redrive_button_names_the_loop_by_its_name(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(3, 10)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.locator("[data-testid=bar-label]", has_text="Work · item 1").click()
    button = page.locator("[data-testid=redrive-selection]")
    button.wait_for()
    assert button.inner_text() == "Redrive item 1 of Parallel Loop"
    button.click()
    assert page.inner_text("#redrive-title") == "Redrive item 1 of Parallel Loop"
    assert page_errors.unexpected() == []
