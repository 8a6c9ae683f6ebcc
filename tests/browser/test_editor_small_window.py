"""The editor at 1024×700, a small laptop window, in Chromium.

Probed: the toolbar wrapped onto a second row and the mini map (200×150) covered about a
tenth of the narrow canvas, over the nodes. Now, under 1280 px wide, the less frequent
toolbar buttons sit in a "More" menu (the toolbar is one row), the side columns narrow,
the mini map is drawn smaller on a small canvas, and a control hides it (remembered)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const one = (s) => { const el = document.querySelector(s); return el ? box(el) : null; };
  const toolbar = document.querySelector('.fm-toolbar');
  const shown = [...toolbar.children].filter((el) => el.getClientRects().length > 0).map(box);
  return {canvas: one('[data-testid=canvas]'), minimap: one('.react-flow__minimap'), toolbar: box(toolbar),
          items: shown, scrollWidth: document.documentElement.scrollWidth};
}"""


def open_editor(page: Any, name: str) -> None:
    workflow_id = api_post(page, "/api/workflows", {"name": name, "definition": fan_out(10)})["id"]
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector(".react-flow__node")


def test_at_1024_by_700_the_toolbar_is_one_row_and_the_minimap_stays_small(logged_in_page: Any,
                                                                           page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 700})
    open_editor(page, "A workflow with a rather long name for its title")
    page.wait_for_selector(".react-flow__minimap")
    page.wait_for_timeout(300)  # the map settles to the canvas's size
    boxes = page.evaluate(BOXES)

    # One row: every visible toolbar item shares the row, and the toolbar is one button high.
    tops = {round(item["y"] + item["h"] / 2) for item in boxes["items"]}
    assert max(tops) - min(tops) <= 4, boxes["items"]
    assert boxes["toolbar"]["h"] <= 52, boxes["toolbar"]
    assert all(item["x"] + item["w"] <= 1024 for item in boxes["items"]), boxes["items"]
    assert boxes["scrollWidth"] <= 1024
    for test_id in ("save", "run", "undo", "redo", "auto-layout", "snap-toggle", "open-settings", "toolbar-more"):
        assert page.locator(f"[data-testid={test_id}]").is_visible(), test_id

    # The mini map covers a small share of the canvas, which keeps most of the window.
    canvas, minimap = boxes["canvas"], boxes["minimap"]
    share = minimap["w"] * minimap["h"] / (canvas["w"] * canvas["h"])
    assert share <= 0.05, (share, canvas, minimap)
    assert canvas["w"] >= 500, canvas

    # What moved into "More" still works: versions, then shortcuts by keyboard.
    page.click("[data-testid=toolbar-more]")
    page.click("[data-testid=more-versions]")
    page.wait_for_selector("[role=dialog]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[role=dialog]", state="detached")
    page.click("[data-testid=toolbar-more]")
    assert page.locator("[data-testid=toolbar-more-menu]").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("[data-testid=toolbar-more-menu]").count() == 0

    # The mini map can be hidden, and stays hidden after a reload.
    page.click("[data-testid=minimap-toggle]")
    assert page.locator(".react-flow__minimap").count() == 0
    page.reload()
    page.wait_for_selector(".react-flow__node")
    assert page.locator(".react-flow__minimap").count() == 0
    page.click("[data-testid=minimap-toggle]")
    page.wait_for_selector(".react-flow__minimap")
    assert not page_errors.unexpected(), page_errors.messages


def test_a_wide_window_keeps_every_button_and_the_full_minimap(logged_in_page: Any) -> None:
    page = logged_in_page  # 1440×900, the browser tests' default
    open_editor(page, "Wide")
    page.wait_for_selector(".react-flow__minimap")
    for test_id in ("open-versions", "import", "export", "open-help"):
        assert page.locator(f"[data-testid={test_id}]").is_visible(), test_id
    assert not page.locator("[data-testid=toolbar-more]").is_visible()
    boxes = page.evaluate(BOXES)
    assert boxes["minimap"]["w"] == pytest.approx(200, abs=2)
