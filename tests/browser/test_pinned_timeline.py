"""A pinned node run on the run page's timeline, in Chromium: it took no time (it output
its pinned data at once), and was drawn as a 3 px sliver under the start of the next bar,
which a user could neither see nor click. It is a marker with a pin now, drawn over its
neighbour: clicking it opens its side panel, which says it did not run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, api_put, api_wait_finished
from tests.browser.test_pinned_data import definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pinned_bar_is_wide_enough_to_see_and_click(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Pinned bar", "definition": definition()})
    api_put(page, f"/api/workflows/{workflow['id']}/pins/fetch", {"data": {"n": 20}})
    started = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 1}, "usePinnedData": True})
    done = api_wait_finished(page, started["id"])
    assert done["status"] == "succeeded" and done["output"] == {"Result": {"doubled": 40}}, done

    page.goto(f"/executions/{started['id']}/")
    bar = page.locator("[data-testid=timeline-bar][data-node-id=fetch]")
    bar.wait_for()
    box = bar.locator("rect.tl-run").bounding_box()
    assert box is not None and box["width"] >= 12, box  # a marker, not a sliver
    assert bar.locator("[data-testid=pinned-marker]").is_visible()
    assert bar.get_attribute("data-pinned") == "true"

    # A click in its middle lands on it (not on Calc's bar, which starts at the same time).
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=panel-pinned]")
    assert "did not run" in page.inner_text("[data-testid=panel-pinned]")
    assert bar.get_attribute("aria-pressed") == "true"
