"""The timeline's "now" marker of a live run, in Chromium, at 800 and 1280 px.

In an 800 px window the fitted chart leaves ~20 px right of the "now" line, and its label,
written right of the line, was cut by the chart's edge: it read "nov". It is written left
of the line when there is no room on its right.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [800, 1280])
def test_the_now_label_is_whole_inside_the_chart(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run_until_paused(page, workflow["id"])  # a live run: the line moves with the clock
    label = page.locator("[data-testid=now-line] text")
    label.wait_for()
    assert label.text_content() == "now"
    box = label.bounding_box()
    chart = page.locator("[data-testid=gantt]").bounding_box()
    assert box and chart
    assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"] - 1, (box, chart)
    assert page_errors.unexpected() == []
