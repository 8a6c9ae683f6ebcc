"""Long JSON in its scrolling box (a run's input and result on the run page, a node run's
input and output in its details and in the editor's run data), with axe and the keyboard, in
Chromium.

Each of these <pre> boxes scrolls (a max-height) once its JSON is long. axe's
`scrollable-region-focusable` (serious) found them out of the keyboard's reach: a keyboard
user could not scroll to the end of a node's output. Each such box is now a named region in
the tab order, with a focus ring, and the arrow keys scroll it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible, axe_violations
from tests.browser.canvas import open_node
from tests.browser.helpers import api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLOW = {
    "schemaVersion": 1, "name": "Long output", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "result", "type": "output", "name": "Result", "position": {"x": 260, "y": 0},
         "config": {"value": "{{input}}"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "result"}],
}
# Sixty lines of JSON: several times the boxes' 200–240 px.
LONG_INPUT = {"lines": [f"line {i}: the order's item {i}" for i in range(60)]}


def overflows(page: Any, selector: str) -> None:
    box = page.locator(selector)
    box.wait_for()
    assert box.evaluate("el => el.scrollHeight > el.clientHeight + 40"), f"{selector} does not scroll"


def no_unreachable_scroller(page: Any, where: str) -> None:
    found = [v for v in axe_violations(page) if v["id"] == "scrollable-region-focusable"]
    assert not found, f"{where}: {found}"
    assert_accessible(page, where)


def reach_and_scroll_with_keys(page: Any, selector: str, start: str, max_tabs: int = 25) -> None:
    """From `start` (focused), Tab reaches the box, which shows that it has the focus, and
    the arrow keys and End scroll it to its last line."""
    page.locator(start).focus()
    box = page.locator(selector)
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if box.evaluate("el => document.activeElement === el"):
            break
    else:
        raise AssertionError(f"Tab never reached {selector}")
    ring = box.evaluate("el => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert ring[0] != "none" and ring[1] >= 2, ring
    # (A screen reader says what it is.)
    assert box.get_attribute("aria-label"), selector
    assert box.evaluate("el => el.scrollTop") == 0
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("el => el.scrollTop > 0", arg=box.element_handle())
    page.keyboard.press("End")
    page.wait_for_function("el => el.scrollTop + el.clientHeight >= el.scrollHeight - 2", arg=box.element_handle())


def test_the_run_pages_long_json_is_reachable_and_scrolls_by_keyboard(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Long output", "definition": FLOW})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": LONG_INPUT})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")

    # The run's Input and Result, opened in the header.
    page.locator("[data-testid=run-input] summary").click()
    page.locator("[data-testid=run-output] summary").click()
    overflows(page, "[data-testid=run-input] pre")
    overflows(page, "[data-testid=run-output] pre")
    no_unreachable_scroller(page, "the run page with its long input and result open")
    reach_and_scroll_with_keys(page, "[data-testid=run-output] pre", "[data-testid=run-output] summary")

    # A node run's details: its input and output.
    page.locator("[data-testid=timeline-bar][data-node-id=result]").click()
    overflows(page, "[data-testid=panel-output]")
    no_unreachable_scroller(page, "a node run's details with a long output")
    reach_and_scroll_with_keys(page, "[data-testid=panel-output]", "[data-testid=panel-input]")
    assert page_errors.unexpected() == []


def test_the_editors_run_data_is_reachable_and_scrolls_by_keyboard(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Long output", "definition": FLOW})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": LONG_INPUT})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
                           timeout=30_000)
    assert page.locator("[data-testid=run-picker]").input_value() == str(run["id"])
    open_node(page, "result")
    overflows(page, "[data-testid=run-data-output]")
    no_unreachable_scroller(page, "the editor's run data of a long output")
    reach_and_scroll_with_keys(page, "[data-testid=run-data-output]", "[data-testid=run-data-input]")
    assert page_errors.unexpected() == []
