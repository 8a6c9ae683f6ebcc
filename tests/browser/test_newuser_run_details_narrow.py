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


@pytest.mark.parametrize("width", [360, 480])
def test_on_a_phone_the_run_page_is_whole_and_nothing_scrolls_sideways(logged_in_page: Any, page_errors: Any,
                                                                       width: int) -> None:
    """At 360 px the chart was drawn 400 px wide in a 318 px box (its last 80 px, the end of
    the run, cut off), the workflow's picture began at 294 px beside the trace tree so the
    page's column scrolled sideways, and opening a bar's details scrolled the chart's zoom
    buttons off its left edge. Under 600 px the chart fits its box, the trace tree and the
    picture are one above the other, and nothing scrolls sideways."""
    from tests.browser.test_newuser_executions_list_fit import usable

    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(200)})
    run = api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    gantt = page.locator("[data-testid=gantt]")
    gantt.wait_for()
    # The chart is whole: its drawing no wider than its box; the merge's bar inside the window.
    assert gantt.evaluate("el => el.querySelector('svg').getBoundingClientRect().width <= el.clientWidth + 1")
    merge = page.locator("[data-testid=timeline-bar][data-node-id=aggregate]").first.bounding_box()
    assert merge and merge["x"] + merge["width"] <= width, merge

    def nothing_sideways() -> None:
        sizes = page.evaluate("""() => [document.documentElement.scrollWidth,
                                        ...[...document.querySelectorAll('.tl-main')].map(el => el.scrollWidth)]""")
        assert max(sizes) <= width, sizes
        assert page.evaluate("() => document.querySelector('.tl-main').scrollLeft") == 0
        for section in ("Trace tree", "Workflow"):
            box = page.get_by_role("region", name=section).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (section, box)

    nothing_sideways()
    for name in ("Zoom in", "Zoom out"):
        usable(page.locator(".tl-gantt-tools").get_by_role("button", name=name), width)
    page.locator("[data-testid=timeline-bar][data-node-id=process_1]").first.click()
    panel = page.locator("[data-testid=side-panel]")
    panel.wait_for()
    panel_box = panel.bounding_box()
    assert panel_box and panel_box["x"] >= 0 and panel_box["x"] + panel_box["width"] <= width, panel_box
    nothing_sideways()
    usable(panel.get_by_role("button", name="Close"), width).click()
    panel.wait_for(state="detached")
    usable(page.locator(".tl-gantt-tools").get_by_role("button", name="Zoom in"), width)
    assert page_errors.unexpected() == []
