"""Every page on a phone held sideways (640×360 to 740×360: wider than the phone layouts'
600 px, but very short), in Chromium.

Probed at 640×360 and 740×360, these windows had the desktop layout:
- the editor's canvas was a ~200×200 px slot between the palette and the side panel, and the
  page itself scrolled (to 754 px) under the window;
- the run page's header (status, stats, an approval's callout) took ~300 of the 360 px and the
  chart, in a box of its own below it, had a sliver: it could not be seen at once;
- the Executions and Workflows lists were 710 and 666 px wide at 640 px, the page scrolled
  sideways and a row's Approve… was cut off at the right edge.
Now the editor has its phone layout (palette drawer, node sheet) there, the run page scrolls
as a whole with a bar's details as a sheet over the window, and the lists are cards. A
1440×900 window keeps the desktop layout (checked here for the run page and the lists; the
editor's is test_phone_editor.py's desktop test).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post, fan_out, wait_for_status
from tests.browser.test_approval import run_until_paused
from tests.browser.test_dead_letters import failing_workflow, wait_dead_letters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEWAYS = [(640, 360), (667, 375), (720, 360), (740, 360)]

ON_TOP = """el => { const r = el.getBoundingClientRect();
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return !!hit && (hit === el || el.contains(hit)); }"""


def usable(page: Any, target: Any, size: tuple[int, int]) -> Any:
    """`target` (a selector or locator), once scrolled to as a person would: visible, wholly
    inside the window and not covered at its middle."""
    control = page.locator(target) if isinstance(target, str) else target
    assert control.is_visible(), target
    control.scroll_into_view_if_needed()
    box = control.bounding_box()
    width, height = size
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (str(target), box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (str(target), box)
    assert control.evaluate(ON_TOP), f"{target} is covered"
    return control


def no_sideways_scroll(page: Any, width: int) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(sizes) <= width, sizes


def dialog_fits(page: Any, selector: str, size: tuple[int, int]) -> Any:
    """A dialog wholly inside the window (what does not fit scrolls inside it)."""
    dialog = page.locator(selector)
    dialog.wait_for()
    box = dialog.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= size[1] + 0.5, (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 0.5, (selector, box)
    return dialog


@pytest.mark.parametrize("size", SIDEWAYS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_editor_sideways_keeps_a_canvas_and_every_control(logged_in_page: Any, page_errors: Any,
                                                              size: tuple[int, int]) -> None:
    page = logged_in_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    workflow = api_post(page, "/api/workflows", {"name": "Sideways", "definition": fan_out(5)})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node")
    # The window does not scroll: the editor is the window.
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert sizes[0] <= width and sizes[1] <= height, sizes
    for selector in ("[data-testid=workflow-title]", "[data-testid=save]", "[data-testid=run]",
                     "[data-testid=toolbar-more]", "[data-testid=open-palette]"):
        usable(page, selector, size)
    # The canvas has the window's width and a useful height (not a slot between two columns).
    canvas = page.locator("[data-testid=canvas]").bounding_box()
    assert canvas and canvas["width"] >= width - 2 and canvas["height"] >= 150, canvas

    # A node's panel is a sheet with a close button, which gives the canvas back.
    node = page.locator("[data-testid=rf__node-process_1]")
    assert node.evaluate(ON_TOP), "the node is covered"
    node.click()
    page.locator("[data-testid=node-name-input]").fill("Renamed sideways")
    usable(page, "[data-testid=close-side-panel]", size).click()
    page.wait_for_selector("[data-testid=node-panel]", state="detached")
    assert node.evaluate(ON_TOP)

    # Save, then Run… in its dialog: the dialog fits and its button starts the run.
    usable(page, "[data-testid=save]", size).click()
    page.wait_for_selector("[data-testid=save-state]:has-text('v2')")
    usable(page, "[data-testid=run]", size).click()
    dialog_fits(page, "[data-testid=run-dialog]", size).locator(".cm-editor").wait_for()
    usable(page, "[data-testid=run-submit]", size).click()
    page.wait_for_selector("[data-testid=status-aggregate]", state="attached", timeout=30_000)
    page.wait_for_selector("[data-testid=toast]", state="detached", timeout=10_000)  # (it lies over the menu)

    # Every item of the "⋯" menu can be reached; Versions… fits too, and closes.
    usable(page, "[data-testid=toolbar-more]", size).click()
    items = page.locator("[data-testid=toolbar-more-menu] [role=menuitem]")
    for i in range(items.count()):
        if items.nth(i).is_visible():  # (what the toolbar shows itself at this width is not in it)
            usable(page, items.nth(i), size)
    usable(page, "[data-testid=more-versions]", size).click()
    dialog_fits(page, "[data-testid=versions-dialog]", size)
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=versions-dialog]", state="detached")

    # The palette drawer opens, adds a node and closes (after the run: the new node lacks its message).
    usable(page, "[data-testid=open-palette]", size).click()
    usable(page, "[data-testid=palette-log]", size).click()
    page.locator("[data-testid=node-panel]").wait_for()
    assert page.locator("[data-testid=node-name-input]").input_value() == "Log"
    usable(page, "[data-testid=close-side-panel]", size).click()
    no_sideways_scroll(page, width)
    assert page_errors.unexpected() == []


@pytest.mark.parametrize("size", [(640, 360), (740, 360)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_run_page_sideways_shows_the_chart_details_and_approval(logged_in_page: Any, page_errors: Any,
                                                                    size: tuple[int, int]) -> None:
    page = logged_in_page
    width, height = size
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    page.set_viewport_size({"width": width, "height": height})
    run_until_paused(page, workflow["id"])
    page.wait_for_selector(".tl-bar")
    no_sideways_scroll(page, width)

    # The whole chart can be seen at once: scrolled to, its top and bottom are both on screen
    # and are the chart (not clipped by a box squeezed under the header).
    chart = page.locator(".tl-gantt")
    chart.evaluate("el => el.scrollIntoView({ block: 'center' })")
    box = chart.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, box
    for y in (box["y"] + 8, box["y"] + box["height"] - 8):
        assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('.tl-gantt')",
                             [box["x"] + box["width"] / 2, y]), y

    # A bar's details: on screen, closed by its ×.
    usable(page, page.locator("[data-testid=timeline-bar][data-node-id=sign_off]"), size).click()
    panel = page.locator("[data-testid=side-panel]")
    panel.wait_for()
    panel_box = panel.bounding_box()
    assert panel_box and panel_box["x"] >= 0 and panel_box["x"] + panel_box["width"] <= width + 0.5, panel_box
    usable(page, panel.get_by_role("button", name="Close details"), size).click()
    panel.wait_for(state="detached")

    # Approve… opens its dialog, which fits; approving goes on with the run.
    usable(page, page.get_by_role("button", name="Approve…"), size).click()
    dialog_fits(page, "[data-testid=approval-dialog]", size)
    usable(page, "[data-testid=approval-dialog-approve]", size).click()
    wait_for_status(page, "succeeded")
    assert page_errors.unexpected() == []


@pytest.mark.parametrize("size", [(640, 360), (740, 360)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_lists_sideways_fit_the_width_and_their_buttons_work(logged_in_page: Any, page_errors: Any,
                                                                 size: tuple[int, int]) -> None:
    page = logged_in_page
    width, _ = size
    page.set_viewport_size({"width": width, "height": size[1]})
    refund = api_post(page, "/api/workflows", {"name": "Refund approval for big orders", "definition": APPROVAL})
    api_post(page, f"/api/workflows/{refund['id']}/run", {"input": {}})
    charge = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    failed = api_post(page, f"/api/workflows/{charge['id']}/run", {"input": {"card": "4242"}})
    wait_dead_letters(page, 1)

    page.goto("/workflows/")
    page.wait_for_selector("[data-testid^=workflow-row-]")
    no_sideways_scroll(page, width)
    rows = page.locator("[data-testid^=workflow-row-]")
    for i in range(rows.count()):
        buttons = rows.nth(i).locator("button, a")
        for j in range(buttons.count()):
            usable(page, buttons.nth(j), size)

    page.goto("/executions/")
    approve = page.locator("[data-testid=execution-row][data-status=paused] [data-testid=row-approve]")
    approve.wait_for(timeout=15_000)
    failed_row = page.locator(f"[data-testid=execution-row][data-execution-id='{failed['id']}']")
    failed_row.locator("[data-testid=row-status]", has_text="failed").wait_for(timeout=15_000)
    no_sideways_scroll(page, width)
    rows = page.locator("[data-testid=execution-row]")
    for i in range(rows.count()):
        buttons = rows.nth(i).locator("button")
        for j in range(buttons.count()):
            usable(page, buttons.nth(j), size)
    usable(page, approve, size).click()
    dialog_fits(page, "[data-testid=approval-dialog]", size)
    usable(page, "[data-testid=approval-dialog-approve]", size)
    page.keyboard.press("Escape")
    usable(page, failed_row.locator("[data-testid=row-redrive]"), size).click()
    dialog_fits(page, "[data-testid=redrive-dialog]", size)
    usable(page, "[data-testid=redrive-confirm]", size)
    page.keyboard.press("Escape")

    page.goto("/dead-letters/")
    row = page.locator("[data-testid=dead-letter-row]").first
    row.wait_for()
    no_sideways_scroll(page, width)
    for test_id in ("dead-letter-inspect", "dead-letter-replay", "dead-letter-discard"):
        usable(page, row.locator(f"[data-testid={test_id}]"), size)
    row.locator("[data-testid=dead-letter-replay]").click()
    usable(page, "[data-testid=rerun-submit]", size)
    assert page_errors.unexpected() == []


def test_a_desktop_window_keeps_the_run_page_and_lists_as_they_were(logged_in_page: Any) -> None:
    """(By class and role, which the old build has too: this passes before and after.)"""
    page = logged_in_page
    page.set_viewport_size({"width": 1440, "height": 900})
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run_until_paused(page, workflow["id"])
    page.locator("[data-testid=timeline-bar][data-node-id=sign_off]").click()
    page.locator("[data-testid=side-panel]").wait_for()
    layout = page.evaluate("""() => {
        const box = (s) => { const r = document.querySelector(s).getBoundingClientRect();
                             return [Math.round(r.x), Math.round(r.width)]; };
        return { main: box('.tl-main'), panel: box('.tl-panel'),
                 scrolls: document.documentElement.scrollHeight > innerHeight }; }""")
    assert layout == {"main": [0, 1040], "panel": [1040, 400], "scrolls": False}, layout
    page.goto("/executions/")
    page.locator("[data-testid=execution-row]").first.wait_for()
    assert page.locator(".fm-exec-table thead th").nth(1).is_visible()
    assert page.locator("[data-testid=execution-row]").first.evaluate("el => getComputedStyle(el).display") == "table-row"
    page.goto("/workflows/")
    page.locator("[data-testid^=workflow-row-]").first.wait_for()
    assert page.locator("[data-testid^=workflow-row-]").first.evaluate("el => getComputedStyle(el).display") == "table-row"
