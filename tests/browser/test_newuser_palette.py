"""The node palette as a new user drives it with the mouse, in Chromium.

Each palette item is a button (role=button, focusable): someone coming from n8n clicks
it and expects the node on the canvas. Before, only a double-click, Enter or a drag added
it; a plain click did nothing at all, which reads as a broken button.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import node_ids

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def node_count(page: Any) -> int:
    return int(page.locator(".react-flow__node").count())


def test_a_click_on_a_palette_item_adds_one_node_and_a_double_click_adds_one_too(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Palette")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    assert node_ids(page) == ["start"]

    # Start selected: a click on Delay adds it after Start, connected, like Enter does.
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click("[data-testid=palette-delay]")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__node').length === 2")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 1")
    assert "delay" in page.inner_text("[data-testid=node-panel-id]")

    # A double-click is one add, not two (its first click already added the node).
    page.dblclick("[data-testid=palette-log]")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__node').length === 3")
    page.wait_for_timeout(300)
    assert node_count(page) == 3

    # The unavailable Start adds nothing.
    page.click("[data-testid=palette-start]", force=True)  # aria-disabled: Playwright would wait for it
    page.wait_for_timeout(200)
    assert node_count(page) == 3
    assert page_errors.unexpected() == []
