"""The "paused" label on the timeline, in Chromium.

It was drawn inside the first lane, under the bars, so on a run paused at an approval it
lay across the approval's own bar label ("Sign-off" and "paused" overprinted). It now sits
in the band between the axis labels and the first lane.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_paused_label_overlaps_no_lane(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run_until_paused(page, workflow["id"])
    label = page.locator(".tl-paused-label")
    label.wait_for(timeout=15_000)  # drawn once the shaded span is wide enough
    box = label.bounding_box()
    lane = page.locator("[data-testid=timeline-lane]").first.bounding_box()
    assert box and lane
    assert box["y"] + box["height"] <= lane["y"] + 1, (box, lane)
    assert page_errors.unexpected() == []
