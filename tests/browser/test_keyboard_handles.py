"""Connecting nodes from their handles by keyboard (issue 16, point 10): each handle is in
the tab order, named by its node and handle, shows where the focus is, and Enter (or Space)
on it opens the connect dialog from that handle — from an output the wire leaves from that
very output, into an input the dialog asks which node the wire comes from."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.canvas import save
from tests.browser.helpers import api_get, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Handles", "settings": {},
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "check", "type": "condition", "name": "Check", "position": {"x": 300, "y": 0},
                   "config": {"expression": "input.ok"}},
                  {"id": "yes", "type": "log", "name": "Yes", "position": {"x": 600, "y": -80}, "config": {"message": "y"}},
                  {"id": "no", "type": "log", "name": "No", "position": {"x": 600, "y": 80}, "config": {"message": "n"}}],
        "edges": [{"id": "e1", "source": "start", "target": "check"}],
    }


def active(page: Any, attribute: str) -> Any:
    return page.evaluate(f"document.activeElement.getAttribute('{attribute}')")


def test_tab_to_a_handle_and_connect_from_it(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Handles", "definition": definition()})
    page.goto(f"/workflows/{workflow['id']}/")
    page.locator(".react-flow__node[data-id=check]").wait_for()

    # From the Check node, Tab walks through its handles: its input, then its two outputs.
    page.locator(".react-flow__node[data-id=check]").focus()
    page.keyboard.press("Tab")
    assert active(page, "aria-label") == "Connect into Check, its input"
    page.keyboard.press("Tab")
    assert active(page, "aria-label") == "Connect from Check, output true"
    page.keyboard.press("Tab")
    assert active(page, "aria-label") == "Connect from Check, output false"
    assert active(page, "data-testid") == "handle-out-check-false"
    # The focused handle shows a ring.
    ring = page.evaluate("[getComputedStyle(document.activeElement).outlineStyle,"
                         " parseFloat(getComputedStyle(document.activeElement).outlineWidth)]")
    assert ring[0] == "solid" and ring[1] >= 2, ring

    # Enter: the dialog starts from that output; pick No, connect.
    page.keyboard.press("Enter")
    dialog = page.locator("[data-testid=connect-dialog]")
    dialog.wait_for()
    assert "Check" in dialog.text_content() and "output false" in dialog.text_content()
    assert page.input_value("[data-testid=connect-handle]") == "false"
    page.select_option("[data-testid=connect-target]", "no")
    dialog.locator("[data-testid=connect-submit]").press("Enter")
    dialog.wait_for(state="detached")
    # The wire is drawn, and the focus is back on the handle it was started from.
    page.locator(".react-flow__edge").nth(1).wait_for()
    assert active(page, "data-testid") == "handle-out-check-false"

    # Space on Yes's input: the dialog asks where the wire comes from (Check's true output).
    page.locator("[data-testid=handle-in-yes]").focus()
    page.keyboard.press(" ")
    dialog.wait_for()
    page.select_option("[data-testid=connect-target]", "check")
    page.select_option("[data-testid=connect-handle]", "true")
    dialog.locator("[data-testid=connect-submit]").press("Enter")
    dialog.wait_for(state="detached")
    page.locator(".react-flow__edge").nth(2).wait_for()
    assert_accessible(page, "the editor with focusable handles")

    save(page)
    edges = api_get(page, f"/api/workflows/{workflow['id']}")["definition"]["edges"]
    wires = sorted((e["source"], e.get("sourceHandle"), e["target"]) for e in edges)
    assert wires == [("check", "false", "no"), ("check", "true", "yes"), ("start", None, "check")], wires
    assert page_errors.unexpected() == []
