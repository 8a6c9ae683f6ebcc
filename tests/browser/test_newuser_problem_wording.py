"""The words of the editor's problems, as a new user reads them, in Chromium.

- Saving a draft with one problem said "a draft with 1 problem(s)".
- A problem named its field by its path in the JSON: "Call: config.url: is required". The
  node's panel labels that field "URL"; the list and the panel now say "URL: is required".
- Only the text of a problem's line was a button: a click on the blank end of the line
  did nothing. The whole line selects the node.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_PROBLEM = {
    "schemaVersion": 1, "name": "Fetch", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "call", "type": "http", "name": "Call", "position": {"x": 250, "y": 0},
         "config": {"method": "GET", "url": ""}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "call"}],
}


def test_problems_read_as_the_form_does(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Fetch", "definition": ONE_PROBLEM, "draft": True})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='call']")
    page.wait_for_selector("[data-testid=issues-summary]")
    page.click("[data-testid=issues-summary]")
    line = page.locator("[data-testid=issues] li").filter(has_text="(it is empty)")
    line.wait_for(timeout=10_000)
    text = line.inner_text()
    assert "config." not in text and "Call: URL: is required" in text, text

    # A click on the blank end of the line (far right of the footer) selects the node.
    box = line.bounding_box()
    assert box
    page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=node-panel-id]:has-text('call')", timeout=5_000)
    errors = page.locator("[data-testid=node-panel-errors]")
    errors.get_by_text("URL: is required").wait_for(timeout=10_000)
    assert "config." not in errors.inner_text()

    # Saving: the toast counts the problem in words.
    page.fill("[data-testid=node-name-input]", "Call API")
    page.keyboard.press("Control+s")
    toast = page.locator("[data-testid=toast]").filter(has_text="a draft with")
    toast.wait_for(timeout=10_000)
    assert "a draft with 1 problem:" in toast.inner_text(), toast.inner_text()
    assert "(s)" not in toast.inner_text()
    assert page_errors.unexpected() == []
