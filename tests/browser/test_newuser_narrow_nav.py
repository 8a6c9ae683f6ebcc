"""The main navigation in a narrow window, in Chromium.

At 480 px "Log out" was past the right edge of the window (the page scrolled sideways to
reach it) and "Dead letters" broke over two lines. Every link and button of the bar is now
on one row, fully inside the window, at 360 to 700 px.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [360, 480, 700])
def test_every_nav_link_is_on_screen_in_one_row(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 700})
    page.goto("/workflows/")
    nav = page.locator("[data-testid=main-nav]")
    nav.wait_for()
    controls = nav.locator("a:visible, button:visible")
    names = [name.strip() for name in controls.all_inner_texts()]
    for needed in ("Workflows", "Executions", "Dead letters", "Log out"):
        assert needed in names, names
    middles = []
    for i in range(controls.count()):
        box = controls.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (names[i], box)
        assert box["height"] <= 40, (names[i], box)  # one line of text, not two
        middles.append(box["y"] + box["height"] / 2)
    assert max(middles) - min(middles) <= 2, middles
    assert nav.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page_errors.unexpected() == []
