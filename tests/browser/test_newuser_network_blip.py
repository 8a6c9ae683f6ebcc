"""The editor when the network drops for a moment, in Chromium.

The code editor (CodeMirror), the JavaScript checker (acorn) and the auto-layout engine
are loaded on first use. When that download failed (server restarting, Wi-Fi gone), the
editor vanished: React had no fallback for the failed chunk, unmounted the whole page, and
the unsaved changes on the canvas were gone from view. Now the field falls back to a plain
text box, the page stays, and once the network is back the next use loads them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import open_node
from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAZY_CHUNKS = "**/static/dist/assets/{CodeField,acorn,elk}*"

TRANSFORM = {
    "schemaVersion": 1, "name": "Shape", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "shape", "type": "transform", "name": "Shape", "position": {"x": 300, "y": 0},
         "config": {"operation": "custom", "expression": "input.n * 2"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "shape"}],
}


def test_a_failed_chunk_download_keeps_the_editor_and_the_unsaved_changes(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Blip", "definition": fan_out(10)})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='aggregate']")
    page.fill("[data-testid=workflow-title]", "Blip, renamed")
    page.wait_for_selector("[data-testid=save-state]:has-text('Unsaved')")

    page.route(LAZY_CHUNKS, lambda route: route.abort("connectionrefused"))
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    # The input is still editable, as plain text.
    field = page.locator("[data-testid=run-input] textarea")
    field.wait_for()
    field.fill('{"n": 1}')
    page.wait_for_timeout(500)
    # The editor and the unsaved change are still there.
    assert page.locator("[data-testid=editor]").is_visible()
    assert page.input_value("[data-testid=workflow-title]") == "Blip, renamed"
    page.click("[data-testid=run-dialog] >> text=Cancel")

    # Back online: the next dialog gets the real code editor.
    page.unroute(LAZY_CHUNKS)
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-input] .cm-content")
    assert page.input_value("[data-testid=workflow-title]") == "Blip, renamed"
    allowed = ("Failed to load resource", "Failed to fetch dynamically imported module", "error loading dynamically imported module")
    assert page_errors.unexpected(allowed) == []


def test_the_expression_check_works_again_after_a_failed_download(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Shape", "definition": TRANSFORM})
    page.route("**/static/dist/assets/acorn*", lambda route: route.abort("connectionrefused"))
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='shape']")
    open_node(page, "shape")
    page.wait_for_selector("[data-testid=field-expression] .cm-content")
    page.wait_for_timeout(500)
    page.unroute("**/static/dist/assets/acorn*")
    # A syntax error typed now is caught while typing: the parser is fetched again.
    page.click("[data-testid=field-expression] .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type("input.n *")
    page.wait_for_selector("[data-testid=field-expression-problem]", timeout=10_000)
    assert "SyntaxError" in page.inner_text("[data-testid=field-expression-problem]")
