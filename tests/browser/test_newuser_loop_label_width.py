"""A loop's lane label on the run page, in Chromium, at 1280 and 800 px.

The label column was 230 px wide whatever it held: a loop named "Fetch profiles" read
"Fetch profiles · 8 items · 1 fa", its failure count cut off mid-word — the part a user
looks for. The column now widens to the longest label (up to 40% of the chart), and the
label reads in full.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, rate_limited_loop, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 800])
def test_a_loops_lane_label_with_its_failure_count_reads_in_full(logged_in_page: Any, live_server_url: str,
                                                                 page_errors: Any, width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    loop = api_post(page, "/api/workflows", {"name": "Fetch profiles", "definition": rate_limited_loop(live_server_url, 8)})
    run = api_post(page, f"/api/workflows/{loop['id']}/run", {"input": {"items": [1, 2, 91, 3]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded", timeout=30_000)
    label = page.locator("[data-testid=lane-fold]")
    page.wait_for_function("() => document.querySelector('[data-testid=lane-fold]')?.textContent.includes('1 failed')")
    assert "Fetch profiles · 4 items · 1 failed" in label.inner_text()
    # Nothing of it is clipped: the button holds its words, and they end left of the chart.
    assert label.evaluate("el => el.scrollWidth <= el.clientWidth"), label.inner_text()
    words = label.locator("[data-testid=lane-label]")
    assert words.evaluate("el => el.scrollWidth <= el.clientWidth")
    words_right = words.evaluate("el => el.getBoundingClientRect().right")
    first_bar_left = page.locator("[data-testid=timeline-bar]").first.evaluate("el => el.getBoundingClientRect().left")
    assert words_right <= first_bar_left, (words_right, first_bar_left)
    assert page_errors.unexpected() == []
