"""A node run's details on the run page in an 800 px window, in Chromium.

Opening a bar's details squeezed the chart beside a 400 px panel to ~360 px, 230 of them
the lane labels: the chart's right end (the Merge's bar and name) was cut off. Under
1000 px the panel now lies over the chart's right side, the chart keeps the page's width
and is whole, and the panel is fully in the window with its close button.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_details_at_800_leave_the_chart_whole(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 800, "height": 760})
    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(200)})
    run = api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.locator("[data-testid=timeline-bar][data-node-id=process_1]").first.click()
    panel = page.locator("[data-testid=side-panel]")
    panel.wait_for()

    gantt = page.locator("[data-testid=gantt]")
    box = gantt.bounding_box()
    assert box and box["width"] >= 700, box  # not squeezed beside the panel
    # The chart is whole: its drawing is no wider than its box (nothing cut at the right).
    assert gantt.evaluate("el => el.querySelector('svg').getBoundingClientRect().width <= el.clientWidth + 1")
    panel_box = panel.bounding_box()
    assert panel_box and panel_box["x"] >= 0 and panel_box["x"] + panel_box["width"] <= 800, panel_box
    close = panel.get_by_role("button", name="Close")
    assert close.is_visible()
    close.click()
    panel.wait_for(state="detached")
    assert page_errors.unexpected() == []
