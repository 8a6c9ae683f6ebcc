"""The workflow editor on a phone (360 and 480 px wide), in Chromium.

Probed at 360 px: the toolbar ran past the window's right edge with Save and ▶ Run (the
page scrolled sideways to reach them), and the palette (180 px) and the side panel (250 px)
left the canvas no width at all: a click on a node landed on the side panel. Now, under
600 px, the toolbar keeps the name, Save, Run and a "⋯" menu; the palette is a drawer that
"+ Add node" opens; the node panel is a full-width sheet with a close button; the canvas
takes the width. A desktop window keeps the three columns as they were."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.helpers import api_get, api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ON_TOP = """el => { const r = el.getBoundingClientRect();
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return !!hit && (hit === el || el.contains(hit)); }"""


def open_editor(page: Any, width: int, height: int = 760) -> str:
    page.set_viewport_size({"width": width, "height": height})
    workflow_id = str(api_post(page, "/api/workflows", {"name": "On my phone", "definition": fan_out(5)})["id"])
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector(".react-flow__node")
    return workflow_id


def no_sideways_scroll(page: Any, width: int) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(sizes) <= width, sizes


def usable(page: Any, selector: str, width: int) -> Any:
    """`selector`, visible, fully inside the window and not covered at its middle."""
    control = page.locator(selector)
    assert control.is_visible(), selector
    control.scroll_into_view_if_needed()  # (as a person scrolls a long drawer)
    box = control.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    assert control.evaluate(ON_TOP), f"{selector} is covered"
    return control


def node_count(page: Any) -> int:
    return int(page.locator(".react-flow__node").count())


@pytest.mark.parametrize("width", [360, 480])
def test_save_and_run_are_on_screen_and_work(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    workflow_id = open_editor(page, width)
    no_sideways_scroll(page, width)
    for selector in ("[data-testid=save]", "[data-testid=run]", "[data-testid=toolbar-more]", "[data-testid=workflow-title]"):
        usable(page, selector, width)
    # The canvas has (nearly) the whole width: no palette or empty panel beside it.
    canvas = page.locator("[data-testid=canvas]").bounding_box()
    assert canvas and canvas["width"] >= width - 2, canvas

    # Save persists an edit (a node renamed in its sheet): version 2 on the server has it.
    page.locator("[data-testid=rf__node-process_1]").click()
    page.locator("[data-testid=node-name-input]").fill("Checked on a phone")
    usable(page, "[data-testid=close-side-panel]", width).click()
    page.wait_for_selector("[data-testid=save-state]:has-text('Unsaved')")
    usable(page, "[data-testid=save]", width).click()
    page.wait_for_selector("[data-testid=save-state]:has-text('v2')")
    saved = api_get(page, f"/api/workflows/{workflow_id}")
    names = {n["id"]: n["name"] for n in saved["definition"]["nodes"]}
    assert (saved["version"], names["process_1"]) == (2, "Checked on a phone")

    # ▶ Run starts a run, which the run bar then shows.
    usable(page, "[data-testid=run]", width).click()
    usable(page, "[data-testid=run-submit]", width).click()
    page.wait_for_selector("[data-testid=execution-id]", state="attached", timeout=10_000)
    page.wait_for_selector("[data-testid=status-aggregate]", state="attached", timeout=30_000)
    no_sideways_scroll(page, width)

    # What the "⋯" menu holds still works: the workflow settings open as a sheet, which closes.
    usable(page, "[data-testid=toolbar-more]", width).click()
    usable(page, "[data-testid=more-settings]", width).click()
    page.wait_for_selector("[data-testid=settings-panel]")
    usable(page, "[data-testid=close-side-panel]", width).click()
    page.wait_for_selector("[data-testid=settings-panel]", state="detached")
    assert page_errors.unexpected() == []


@pytest.mark.parametrize("width", [360, 480])
def test_the_palette_is_a_drawer_and_the_node_panel_a_sheet(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    open_editor(page, width)
    assert_accessible(page, f"the editor at {width} px")
    before = node_count(page)
    # The palette is out of the way until asked for.
    assert not page.locator("[data-testid=palette-log]").is_visible()
    usable(page, "[data-testid=open-palette]", width).click()
    log = usable(page, "[data-testid=palette-log]", width)
    no_sideways_scroll(page, width)
    assert_accessible(page, f"the editor's palette drawer at {width} px")
    # It closes without adding anything…
    usable(page, "[data-testid=close-palette]", width).click()
    assert not page.locator("[data-testid=palette-log]").is_visible()
    # …and a node added from it lands on the canvas, its panel open over the whole width.
    usable(page, "[data-testid=open-palette]", width).click()
    log.click()
    page.wait_for_function("n => document.querySelectorAll('.react-flow__node').length === n", arg=before + 1)
    assert not page.locator("[data-testid=palette-log]").is_visible()
    panel = page.locator("[data-testid=node-panel]")
    panel.wait_for()
    assert page.locator("[data-testid=node-name-input]").input_value() == "Log"
    sheet = page.locator("[data-testid=properties-panel]").bounding_box()
    assert sheet and sheet["x"] <= 1 and sheet["width"] >= width - 2, sheet
    no_sideways_scroll(page, width)
    usable(page, "[data-testid=close-side-panel]", width).click()
    page.wait_for_selector("[data-testid=node-panel]", state="detached")
    assert not page.locator("[data-testid=properties-panel]").is_visible()

    # A tap on a node opens its panel; the close button brings the canvas back.
    node = page.locator("[data-testid=rf__node-process_1]")
    assert node.evaluate(ON_TOP), "the node is covered"
    node.click()
    page.wait_for_selector("[data-testid=node-panel]")
    assert page.locator("[data-testid=node-name-input]").input_value() == "Process 1"
    usable(page, "[data-testid=close-side-panel]", width).click()
    page.wait_for_selector("[data-testid=node-panel]", state="detached")
    assert node.evaluate(ON_TOP)
    # The drawer's close button gives the focus back to "+ Add node"; Escape closes it as well.
    usable(page, "[data-testid=open-palette]", width).click()
    usable(page, "[data-testid=close-palette]", width).click()
    assert page.evaluate("document.activeElement.dataset.testid") == "open-palette"
    usable(page, "[data-testid=open-palette]", width).click()
    page.locator("[data-testid=palette-search]").wait_for()
    page.keyboard.press("Escape")
    assert not page.locator("[data-testid=palette-log]").is_visible()
    assert page_errors.unexpected() == []


def test_a_desktop_window_keeps_palette_canvas_and_panel_side_by_side(logged_in_page: Any) -> None:
    page = logged_in_page
    open_editor(page, 1440, 900)
    # (By class, which the old build has too: this test passed before the phone layout.)
    boxes = page.evaluate("""() => Object.fromEntries(['palette', 'canvas', 'side'].map((name) => {
        const r = document.querySelector(`.fm-${name}`).getBoundingClientRect();
        return [name, [Math.round(r.x), Math.round(r.width)]]; }))""")
    assert boxes == {"palette": [0, 210], "canvas": [210, 890], "side": [1100, 340]}, boxes
    for test_id in ("open-palette", "close-palette", "close-side-panel", "toolbar-more"):
        assert not page.locator(f"[data-testid={test_id}]").is_visible(), test_id
    assert page.locator("[data-testid=empty-panel]").is_visible()
    assert page.inner_text("[data-testid=save-state]") == "Saved · v1"
    page.locator("[data-testid=rf__node-process_1]").click()
    page.wait_for_selector("[data-testid=node-panel]")
    after = page.locator(".fm-side").bounding_box()
    assert after and (round(after["x"]), round(after["width"])) == (1100, 340), after


@pytest.mark.parametrize("width", [360])
def test_moving_a_node_on_a_phone_does_not_cover_the_canvas(logged_in_page: Any, page_errors: Any, width: int) -> None:
    """A drag selected the node, and its sheet then covered the canvas at every drop."""
    page = logged_in_page
    open_editor(page, width)
    node = page.locator("[data-testid=rf__node-start]")
    box = node.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + step * 14)
    page.mouse.up()
    moved = node.bounding_box()
    assert moved and moved["y"] >= box["y"] + 40, (box, moved)
    page.wait_for_selector("[data-testid=save-state]:has-text('Unsaved')")
    assert page.locator("[data-testid=node-panel]").count() == 0
    assert node.evaluate(ON_TOP), "the sheet covers the canvas"
    # A tap still opens it.
    node.click()
    page.wait_for_selector("[data-testid=node-panel]")
    assert page_errors.unexpected() == []


def test_tab_stays_inside_the_open_palette_drawer(logged_in_page: Any) -> None:
    """The drawer covers the canvas and the toolbar: tabbing on from its last node type went
    to controls behind the backdrop. Tab and Shift+Tab now cycle inside it, as in a dialog."""
    page = logged_in_page
    open_editor(page, 360)
    usable(page, "[data-testid=open-palette]", 360).click()
    page.locator("[data-testid=palette-search]").wait_for()
    inside = "() => document.querySelector('[data-testid=palette]').contains(document.activeElement)"
    stops = int(page.evaluate("""() => [...document.querySelectorAll('[data-testid=palette] button, [data-testid=palette] input, [data-testid=palette] [tabindex="0"]')]
                                  .filter(el => el.getClientRects().length > 0).length"""))
    seen = set()
    for _ in range(stops + 3):  # once round and on
        page.keyboard.press("Tab")
        assert page.evaluate(inside), page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
        seen.add(page.evaluate("document.activeElement.dataset.testid || document.activeElement.tagName"))
    assert "palette-log" in seen and "close-palette" in seen
    # Shift+Tab from the first stop goes round to the last node type, not out.
    page.locator("[data-testid=close-palette]").focus()
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(inside)
    # Closed, Tab goes through the page again.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate(inside)
