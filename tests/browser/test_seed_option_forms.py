"""The branch and settings forms offer the seed page's options as the server takes them, in
Chromium: a branch's `onError` is `fail` or `continue` (the server refuses `route`, a node's
error handle, on a branch), its `onTimeout` reads as the server says, and the workflow's
settings offer the default `parallel` policy (`onPartialFailure`, `minSuccessRate`, …)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import save
from tests.browser.helpers import api_get, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAN_OUT = {
    "schemaVersion": 1, "name": "Fan out", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "a", "type": "delay", "name": "A", "position": {"x": 300, "y": -100}, "config": {"duration": 10}},
        {"id": "b", "type": "delay", "name": "B", "position": {"x": 300, "y": 100}, "config": {"duration": 10}},
        {"id": "m", "type": "merge", "name": "Merge", "position": {"x": 600, "y": 0}, "config": {}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "a"}, {"id": "e2", "source": "start", "target": "b"},
        {"id": "e3", "source": "a", "target": "m"}, {"id": "e4", "source": "b", "target": "m"},
    ],
}


def options(page: Any, selector: str) -> list[str]:
    return [o for o in page.locator(f"{selector} option").all_inner_texts() if o.strip() not in ("", "—") and not o.startswith("(default")]


def test_branch_and_settings_forms_offer_what_the_server_accepts(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Fan out", "definition": FAN_OUT})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='a']")

    page.click(".fm-edge-label:has-text('branch_a')")
    page.wait_for_selector("[data-testid=edge-panel]")
    assert options(page, "[data-testid='field-branch.onError']") == ["fail", "continue"]
    assert options(page, "[data-testid='field-branch.onTimeout']") == ["cancel", "continue", "error"]
    assert "without retry or onError" in page.inner_text("[data-testid=edge-panel]")
    page.select_option("[data-testid='field-branch.onError']", label="continue")

    page.click("[data-testid=open-settings]")
    page.click("[data-testid='group-settings.parallel'] > summary")
    assert options(page, "[data-testid='field-settings.parallel.onPartialFailure']") == ["fail", "continue", "collect"]
    page.select_option("[data-testid='field-settings.parallel.onPartialFailure']", label="continue")
    page.fill("[data-testid='field-settings.parallel.minSuccessRate']", "0.8")

    save(page)
    definition = api_get(page, f"/api/workflows/{workflow['id']}")["definition"]
    assert next(e for e in definition["edges"] if e["id"] == "e1")["branch"] == {"onError": "continue"}
    assert definition["settings"]["parallel"] == {"onPartialFailure": "continue", "minSuccessRate": 0.8}
