"""The editor's run bar, as a new user meets it, in Chromium.

- The bar appeared with the first run and pushed the canvas down ~43 px, under the
  pointer. Its place is now kept from the first view ("No runs yet…").
- In a 700 px window it wrapped to three rows. It is one row now: the run picker and the
  reason shorten instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 700


def canvas_top(page: Any) -> float:
    box = page.locator("[data-testid=canvas]").bounding_box()
    assert box
    return float(box["y"])


def test_the_first_run_does_not_move_the_canvas_and_the_bar_is_one_row(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": WIDTH, "height": 760})
    workflow_id = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(10)})["id"]
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector(".react-flow__node")
    page.wait_for_timeout(500)  # the page has asked for the workflow's runs (none)
    before = canvas_top(page)

    page.click("[data-testid=run]")
    page.click("[data-testid=run-submit]")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
                           timeout=20_000)
    assert abs(canvas_top(page) - before) <= 1, (before, canvas_top(page))

    # One row: every control of the bar on the same line, the bar no taller than a button row.
    bar = page.locator("[data-testid=run-bar]").bounding_box()
    assert bar and bar["height"] <= 44, bar
    middles: list[float] = []
    for test_id in ("run-picker", "execution-status", "rerun", "execution-link", "hide-badges"):
        box = page.locator(f"[data-testid=run-bar] [data-testid={test_id}]").bounding_box()
        assert box and box["x"] + box["width"] <= WIDTH, (test_id, box)
        middles.append(box["y"] + box["height"] / 2)
    assert max(middles) - min(middles) <= 6, middles
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert page_errors.unexpected() == []
