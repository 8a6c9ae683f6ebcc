"""Building a loop's body without dragging, in Chromium.

A new Loop says "Drop nodes here to build the loop body". With the empty Loop selected, a
click on a palette item (or Enter on it) put the node *after* the loop, wired to its
output, and there was no other way than a drag to put a first node into the body: a
keyboard user could not build a loop at all, and a mouse user got a node in the wrong
place. A selected Loop with an empty body now takes the node as its body's first node;
a Loop that already has a body still gets the node after it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import save
from tests.browser.helpers import api_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def inside_loop(page: Any, node_id: str) -> bool:
    return bool(page.evaluate("""id => {
        const loop = document.querySelector(".react-flow__node[data-id='loop']").getBoundingClientRect();
        const node = document.querySelector(`.react-flow__node[data-id='${id}']`).getBoundingClientRect();
        return node.left >= loop.left && node.right <= loop.right && node.top >= loop.top && node.bottom <= loop.bottom;
    }""", node_id))


def test_a_palette_click_on_a_selected_empty_loop_fills_its_body(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Loop%20body")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click("[data-testid=palette-loop]")
    page.wait_for_selector(".react-flow__node[data-id='loop'].selected")

    # Keyboard, as someone without a mouse adds it: Enter on the palette item.
    page.focus("[data-testid=palette-http]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".react-flow__node[data-id='http']")
    page.wait_for_timeout(200)
    assert inside_loop(page, "http"), "the first node went outside the loop"
    # Not wired to the loop's output (a body's first node has no incoming edge).
    assert page.locator(".react-flow__edge").count() == 1  # start → loop

    # The loop now has a body: a click with the loop selected adds after it, as before.
    page.click(".react-flow__node[data-id='loop'] .fm-node-name")
    page.click("[data-testid=palette-log]")
    page.wait_for_selector(".react-flow__node[data-id='log']")
    page.wait_for_timeout(200)
    assert not inside_loop(page, "log")
    assert page.locator(".react-flow__edge").count() == 2  # start → loop → log
    save(page)
    workflow_id = page.url.rstrip("/").split("/")[-1]
    saved = {n["id"]: n.get("parentId") for n in api_get(page, f"/api/workflows/{workflow_id}")["definition"]["nodes"]}
    assert saved["http"] == "loop" and saved["log"] is None
    assert page_errors.unexpected() == []
