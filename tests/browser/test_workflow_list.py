"""The workflow list (issue 16): each workflow's last run with its status (linked to its
timeline), search, and sorting by name, last run and update time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def definition(name: str, fail: bool) -> dict[str, Any]:
    last = ({"id": "end", "type": "fail", "name": "End", "position": {"x": 250, "y": 0}, "config": {"message": "no"}}
            if fail else
            {"id": "end", "type": "output", "name": "End", "position": {"x": 250, "y": 0}, "config": {"value": "ok"}})
    return {"schemaVersion": 1, "name": name, "settings": {},
            "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}}, last],
            "edges": [{"id": "e1", "source": "start", "target": "end"}]}


def names(page: Any) -> list[str]:
    return page.locator("[data-testid=workflow-link]").all_text_contents()


def test_last_run_search_and_sort(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    made = {name: api_post(page, "/api/workflows", {"name": name, "definition": definition(name, fail)})
            for name, fail in (("Billing", True), ("Alerts", False), ("Cleanup", False))}
    runs = {name: api_post(page, f"/api/workflows/{made[name]['id']}/run", {"input": {}}) for name in ("Billing", "Alerts")}
    deadline = time.monotonic() + 20
    while any(api_get(page, f"/api/executions/{r['id']}")["status"] not in ("succeeded", "failed") for r in runs.values()):
        assert time.monotonic() < deadline, "runs did not finish"
        time.sleep(0.1)

    page.goto("/workflows/")
    page.locator("[data-testid=workflow-link]").first.wait_for()
    row = lambda name: page.locator(f"[data-testid=workflow-row-{made[name]['id']}]")  # noqa: E731
    assert row("Billing").locator("[data-testid=last-run]").text_content().startswith("failed")
    assert row("Alerts").locator("[data-testid=last-run]").text_content().startswith("succeeded")
    assert row("Cleanup").locator("[data-testid=last-run]").text_content() == "never run"
    assert row("Billing").locator("[data-testid=last-run] a").get_attribute("href") == f"/executions/{runs['Billing']['id']}/"

    # Sort by name (ascending, then descending), then by last run (latest first: never-run last).
    page.click("[data-testid=sort-name]")
    assert names(page) == ["Alerts", "Billing", "Cleanup"]
    assert page.get_attribute("th:has([data-testid=sort-name])", "aria-sort") == "ascending"
    page.click("[data-testid=sort-name]")
    assert names(page) == ["Cleanup", "Billing", "Alerts"]
    page.click("[data-testid=sort-lastRun]")
    assert names(page)[-1] == "Cleanup" and set(names(page)[:2]) == {"Alerts", "Billing"}
    assert names(page)[0] == "Alerts"  # run after Billing

    # Search: by name, and by the last run's status.
    page.fill("[data-testid=workflow-search]", "bill")
    assert names(page) == ["Billing"]
    page.fill("[data-testid=workflow-search]", "failed")
    assert names(page) == ["Billing"]
    page.fill("[data-testid=workflow-search]", "never run")
    assert names(page) == ["Cleanup"]
    page.fill("[data-testid=workflow-search]", "")
    assert page.text_content("[data-testid=workflow-count]") == "3 of 3"

    # Delete asks first; Escape closes the question and nothing is deleted.
    row("Cleanup").locator("[data-testid=delete]").click()
    page.locator("[data-testid=confirm-delete]").wait_for()
    page.keyboard.press("Escape")
    page.locator("[data-testid=confirm-delete]").wait_for(state="detached")
    assert len(names(page)) == 3
    assert page_errors.unexpected() == []
