"""The node panel with axe (WCAG 2.x AA), in Chromium: a transform's code field (while its
editor loads, empty with its placeholder, and filled), an HTTP node's form, and the run data
of a run that went through them.

axe found serious issues there: a field's "Default: …" in #98a2b3 on white (2.6:1) and the
code field's placeholder in #888 (3.5:1), both under AA's 4.5:1 for text, and a name
(aria-label) on the plain <pre> that stands for a code field while its editor loads.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.canvas import open_node
from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLOW = {
    "schemaVersion": 1, "name": "Panel", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "shape", "type": "transform", "name": "Shape", "position": {"x": 260, "y": 0},
         "config": {"operation": "custom", "expression": "return {n: 1, note: 'shaped'}"}},
        # Nothing listens on port 1: the call fails, so its panel shows a run's error.
        {"id": "call", "type": "http", "name": "Call", "position": {"x": 520, "y": 0},
         "config": {"method": "GET", "url": "http://127.0.0.1:1/x"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "shape"}, {"id": "e2", "source": "shape", "target": "call"}],
}


@pytest.mark.parametrize("width", [1280, 360])
def test_the_node_panel_and_its_run_data_pass_axe(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 800})
    workflow = api_post(page, "/api/workflows", {"name": "Panel", "definition": FLOW})
    api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    # The code editor's download is held, as on a slow connection: the field is the plain
    # box that stands for it meanwhile.
    held: list[Any] = []
    page.route("**/assets/CodeField-*.js", lambda route: held.append(route))
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'failed'",
                           timeout=30_000)

    open_node(page, "shape")
    page.wait_for_selector(".fm-code-loading")
    assert_accessible(page, "a code field while its editor loads")
    page.wait_for_function("n => n > 0", arg=len(held))
    for route in held:
        route.continue_()
    page.unroute("**/assets/CodeField-*.js")
    page.wait_for_selector("[data-testid=field-expression] .cm-content")
    page.wait_for_selector("[data-testid=run-data-output]")
    assert "shaped" in page.inner_text("[data-testid=run-data-output]")
    # Its defaults ("Default: …") are on screen, and readable.
    assert page.locator(".fm-default").count() > 0
    assert_accessible(page, "a transform's panel with its run data")

    # Emptied, the code field shows its placeholder.
    page.click("[data-testid=field-expression] .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.wait_for_selector("[data-testid=field-expression] .cm-placeholder")
    assert_accessible(page, "an empty code field with its placeholder")
    page.keyboard.press("Control+z")

    if width < 600:  # (on a phone the panel is a sheet over the canvas)
        page.click("[data-testid=close-side-panel]")
    open_node(page, "call")
    page.wait_for_selector("[data-testid=run-data-error]")
    assert_accessible(page, "an HTTP node's panel with the error of its run")
    assert page_errors.unexpected() == []
