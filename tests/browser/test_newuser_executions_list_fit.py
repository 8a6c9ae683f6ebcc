"""The Executions list at 1280 and 800 px, in Chromium.

- At 800 px the table was wider than the page and cut a paused run's "Resume / approve…"
  off at the right edge. Every row's buttons are now fully on screen.
- At 1280 px a trace id broke after "trace-" and a start time before "PM". Each reads on
  one line.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def one_line(locator: Any) -> bool:
    return bool(locator.evaluate("el => el.getClientRects().length === 1"))


@pytest.mark.parametrize("width", [1280, 800])
def test_every_rows_buttons_are_on_screen_and_its_trace_id_is_one_line(logged_in_page: Any, page_errors: Any,
                                                                       width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    refund = api_post(page, "/api/workflows", {"name": "Refund approval for big orders", "definition": APPROVAL})
    api_post(page, f"/api/workflows/{refund['id']}/run", {"input": {}})
    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(10)})
    api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {}})
    page.goto("/executions/")
    page.wait_for_selector("[data-testid=execution-row][data-status=paused] [data-testid=row-approve]", timeout=15_000)
    page.wait_for_selector("[data-testid=execution-row][data-status=succeeded]", timeout=15_000)

    rows = page.locator("[data-testid=execution-row]")
    assert rows.count() == 2
    for i in range(rows.count()):
        row = rows.nth(i)
        buttons = row.locator("button")
        for j in range(buttons.count()):
            box = buttons.nth(j).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (buttons.nth(j).inner_text(), box)
            # Not under the table's clipped edge either: the button is what is at its middle.
            assert buttons.nth(j).evaluate(
                """el => { const r = el.getBoundingClientRect();
                           return el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }""")
        if width >= 1280:
            assert one_line(row.locator("code")), row.locator("code").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []
