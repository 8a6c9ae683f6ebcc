"""A running loop's lane on the timeline, in Chromium: it said "Parallel Loop · 2 items"
while a six-item loop was on its first two, which reads as a loop over two items. While
the loop runs the count is "so far"; once it has finished it is the loop's item count."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def lane(page: Any) -> str:
    return str(page.inner_text("[data-testid=lane-fold]")).strip(" ▾▸\n")


def test_a_running_loop_counts_its_items_so_far(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(2, 1500)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4, 5, 6]}})
    page.goto(f"/executions/{run['id']}/")
    page.wait_for_function("() => document.querySelector('[data-testid=lane-fold]')?.textContent.includes('2 items')")
    assert lane(page).endswith("Parallel Loop · 2 items so far"), lane(page)
    wait_for_status(page, "succeeded", 30_000)
    page.wait_for_function("() => document.querySelector('[data-testid=lane-fold]')?.textContent.includes('6 items')")
    assert lane(page).endswith("Parallel Loop · 6 items"), lane(page)
    assert page_errors.unexpected() == []
