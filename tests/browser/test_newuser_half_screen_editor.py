"""The editor in a window half a laptop screen wide (beside the docs), in Chromium.

Probed at 800 and 700 px: the toolbar kept Undo, Redo, Auto-layout, Snap and Settings in a
row that ran 840 px wide, so Save and ▶ Run sat past the window's right edge (the page
scrolled sideways to reach them). Now the layout buttons move into "More" under 940 px and
undo/redo under 720 px: Save and Run stay on screen, and what left the toolbar still works
from the menu (disabled entries are skipped by the arrow keys)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def on_screen(page: Any, selector: str, width: int) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.parametrize("width", [800, 640])
def test_save_and_run_stay_on_screen(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    workflow_id = api_post(page, "/api/workflows", {"name": "Half a screen", "definition": fan_out(10)})["id"]
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector(".react-flow__node")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for test_id in ("save", "run", "toolbar-more"):
        assert on_screen(page, f"[data-testid={test_id}]", width), test_id

    # What left the toolbar is in the menu: workflow settings open from there.
    page.click("[data-testid=toolbar-more]")
    menu = page.locator("[data-testid=toolbar-more-menu]")
    shown = [t.strip() for t in menu.locator("[role=menuitem]:visible").all_inner_texts()]
    assert {"Auto-layout", "Workflow settings", "Snap to grid: on"} <= set(shown), shown
    assert ("Undo" in shown) == (width < 720), shown
    # The menu opens on its first usable entry (Undo has nothing to undo yet).
    assert page.evaluate("document.activeElement.textContent") == "Auto-layout"
    page.click("[data-testid=more-settings]")
    page.wait_for_selector("[data-testid=settings-panel]")

    # And ▶ Run opens the run dialog.
    page.click("[data-testid=run]")
    page.wait_for_selector("[role=dialog] >> text=Run workflow")
    assert page_errors.unexpected() == []
