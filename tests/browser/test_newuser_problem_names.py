"""The problems list names nodes as the canvas does, in Chromium. A new user who added a
second HTTP Request and renamed it "Fetch orders" read "http_2: url is required": the
id appears nowhere on the canvas (only in the node's panel), so the line did not say which
box to fix. It now reads "Fetch orders: …", as the run dialog's list of problems does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TWO_CALLS = {
    "schemaVersion": 1, "name": "Two calls", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "http", "type": "http", "name": "Fetch users", "position": {"x": 250, "y": -60},
         "config": {"method": "GET", "url": "http://127.0.0.1:9/users"}},
        {"id": "http_2", "type": "http", "name": "Fetch orders", "position": {"x": 250, "y": 60},
         "config": {"method": "GET", "url": ""}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "http"},
        {"id": "e2", "source": "start", "target": "http_2"},
    ],
}


def test_a_problem_names_its_node_by_the_name_on_the_canvas(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Two calls", "definition": TWO_CALLS, "draft": True})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='http_2']")
    page.wait_for_selector("[data-testid=issues-summary]")
    page.click("[data-testid=issues-summary]")
    line = page.locator("[data-testid=issues] li").first
    where = line.locator(".fm-issue-where").inner_text()
    assert where == "Fetch orders", line.inner_text()
    assert "URL: is required" in line.inner_text()
    # The line still leads to the node.
    line.locator(".fm-issue-btn").click()
    page.wait_for_selector("[data-testid=node-panel-id]:has-text('http_2')")
    assert page_errors.unexpected() == []
