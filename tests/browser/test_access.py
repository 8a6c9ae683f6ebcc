"""Every page passes axe-core with no serious or critical violation, as a person using a
screen reader or a keyboard would need (issue 16): login, workflow list, editor, timeline,
executions list, dead letters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.helpers import api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_page_is_accessible(browser: Any, live_server_url: str, transactional_db: None):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server_url)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.wait_for_selector("[data-testid=login-submit]")
        assert_accessible(page, "the login page")
    finally:
        context.close()


def test_every_page_of_a_finished_run_is_accessible(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    definition = loop_definition(3, 30)
    workflow = api_post(page, "/api/workflows", {"name": "Accessible loop", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4, 5, 6, 7, 8]}})

    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=timeline-bar]")
    assert_accessible(page, "the timeline")
    # With a bar's details open too (the side panel).
    page.locator("[data-testid=timeline-bar][data-node-id=loop]").first.click()
    page.wait_for_selector("[data-testid=side-panel]")
    assert_accessible(page, "the timeline with a node run's details")

    page.goto("/workflows/")
    page.wait_for_selector("[data-testid^=workflow-row-]")
    assert_accessible(page, "the workflow list")

    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node")
    assert_accessible(page, "the editor")

    page.goto("/executions/")
    page.wait_for_selector("[data-testid=execution-row]")
    assert_accessible(page, "the executions list")

    page.goto("/dead-letters/")
    page.wait_for_selector("[data-testid=dead-letters-page]")
    assert_accessible(page, "the dead letters")
    assert page_errors.unexpected() == []


def test_nodes_take_the_focus_with_a_ring_and_connect_by_keyboard(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    definition = {
        "schemaVersion": 1, "name": "Keyboard", "settings": {},
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "check", "type": "condition", "name": "Check", "position": {"x": 300, "y": 0},
                   "config": {"expression": "input.ok"}},
                  {"id": "yes", "type": "log", "name": "Yes", "position": {"x": 600, "y": -80}, "config": {"message": "y"}},
                  {"id": "no", "type": "log", "name": "No", "position": {"x": 600, "y": 80}, "config": {"message": "n"}}],
        "edges": [{"id": "e1", "source": "start", "target": "check"}],
    }
    workflow = api_post(page, "/api/workflows", {"name": "Keyboard", "definition": definition})
    page.goto(f"/workflows/{workflow['id']}/")
    node = page.locator(".react-flow__node[data-id=check]")
    node.wait_for()
    # Tab from Start reaches Check (nodes are in the tab order, each followed by its handles:
    # Start's output first); keyboard focus shows the ring.
    page.locator(".react-flow__node[data-id=start]").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == "handle-out-start-out"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('data-id')") == "check"
    assert node.evaluate("el => el.matches(':focus-visible')")
    outline = node.evaluate("el => [getComputedStyle(el).outlineStyle, parseFloat(getComputedStyle(el).outlineWidth)]")
    assert outline[0] == "solid" and outline[1] >= 2, outline

    # C: connect Check's false output to No, all by keyboard.
    page.keyboard.press("c")
    dialog = page.locator("[data-testid=connect-dialog]")
    dialog.wait_for()
    page.select_option("[data-testid=connect-target]", "no")
    page.select_option("[data-testid=connect-handle]", "false")
    dialog.locator("[data-testid=connect-submit]").press("Enter")
    dialog.wait_for(state="detached")
    page.locator(".react-flow__edge").nth(1).wait_for()
    assert page.evaluate("document.activeElement.getAttribute('data-id')") == "check"
    # While the dialog is open, Tab and Shift+Tab stay inside it; Escape closes it without
    # connecting, and the focus is back on the node it was opened from.
    page.keyboard.press("c")
    dialog.wait_for()
    focused = "document.activeElement.getAttribute('data-testid')"
    assert page.evaluate(focused) == "connect-target"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == "connect-submit"
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "connect-target"
    page.keyboard.press("Escape")
    assert dialog.count() == 0
    assert page.evaluate("document.activeElement.getAttribute('data-id')") == "check"
    assert page.locator(".react-flow__edge").count() == 2
    assert_accessible(page, "the editor after a keyboard connection")
    assert page_errors.unexpected() == []
