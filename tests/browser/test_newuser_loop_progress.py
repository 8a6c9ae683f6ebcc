"""A running loop's lane on the timeline, in Chromium. It said "Parallel Loop · 2 items"
while a six-item loop was on its first two (read as a loop over two items), then
"2 items so far" (the engine did not say how long the loop was). The loop's start event
now carries its item count, so the lane reads "2 of 6 items" while it runs — also after a
reload in the middle of the run, from the timeline API — and "6 items" once it has ended."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import STATUS, api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def lane(page: Any) -> str:
    return str(page.inner_text("[data-testid=lane-fold]")).strip(" ▾▸\n")


def wait_lane(page: Any, text: str, timeout: int = 20_000) -> None:
    page.wait_for_function(
        "(t) => document.querySelector('[data-testid=lane-fold]')?.textContent.includes(t)", arg=text, timeout=timeout)


def test_a_running_loop_says_how_many_items_it_has(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(2, 2000)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4, 5, 6]}})
    page.goto(f"/executions/{run['id']}/")
    wait_lane(page, "2 of 6 items")
    assert lane(page).endswith("Parallel Loop · 2 of 6 items"), lane(page)
    # Reloaded mid-run: the lane is built from the timeline API, and still knows the length.
    page.reload()
    wait_lane(page, " of 6 items")
    assert "so far" not in lane(page), lane(page)
    assert page.inner_text(STATUS).strip() in ("running", "queued"), "the run ended too soon"
    wait_for_status(page, "succeeded", 30_000)
    wait_lane(page, "· 6 items")
    assert lane(page).endswith("Parallel Loop · 6 items"), lane(page)
    assert page_errors.unexpected() == []
