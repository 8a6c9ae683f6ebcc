"""How many loop items failed, as the timeline's loop lane says, in Chromium.

The lane counted failed bars, not failed items: after a redrive re-ran the two failing
items of a four-item loop (and they failed again) it read "4 items · 4 failed", as if no
item had succeeded. Each item counts once, by how its latest attempt ended.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Odd items fail (a `fail` node behind a condition), even ones succeed.
ODD_FAIL = {
    "schemaVersion": 1, "name": "Odd items fail", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "loop", "type": "loop", "name": "Charge all", "position": {"x": 250, "y": 0},
         "config": {"arrayPath": "{{input.items}}", "itemVariable": "item", "maxConcurrency": 2}},
        {"id": "check", "type": "condition", "name": "Odd?", "parentId": "loop", "position": {"x": 20, "y": 60},
         "config": {"expression": "item % 2 === 1"}},
        {"id": "boom", "type": "fail", "name": "Boom", "parentId": "loop", "position": {"x": 260, "y": 60},
         "config": {"message": "odd item {{item}}"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "loop"},
        {"id": "e2", "source": "check", "target": "boom", "sourceHandle": "true"},
    ],
}


def loop_lane(page: Any) -> str:
    return str(page.inner_text("[data-testid=lane-fold]")).strip(" ▾▸")


def test_the_loop_lane_counts_failed_items_once_across_a_redrive(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Odd", "definition": ODD_FAIL})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    page.wait_for_function("() => document.querySelector('[data-testid=lane-fold]')?.textContent.includes('failed')")
    assert loop_lane(page).endswith("Charge all · 4 items · 2 failed"), loop_lane(page)

    page.click("[data-testid=redrive-failed]")
    page.click("[data-testid=redrive-confirm]")
    page.wait_for_selector("[data-testid=redrive-count]", timeout=20_000)
    wait_for_status(page, "failed")
    page.wait_for_timeout(500)
    # Items 1 and 3 failed again; 2 and 4 kept their success: still two failed items.
    assert loop_lane(page).endswith("Charge all · 4 items · 2 failed"), loop_lane(page)
    assert page_errors.unexpected() == []
