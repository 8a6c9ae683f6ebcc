"""How a loop's items ended, as the run's pages show it, in Chromium.

A loop body node's badge read "FAILED" when its loop succeeded with some items failed
(`onPartialFailure: "continue"` lets it): the canvas said the opposite of what happened to
the loop. It now says how many ("2 of 4 failed"), on the editor's canvas and on the run
page's small canvas alike, and the loop keeps its "succeeded".

With `cancelOnFailure`, the items one failure cut are cancelled, not failed: the run's
error and the loop's lane on the timeline name them apart.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.browser.canvas import open_node
from tests.browser.helpers import STATUS, api_post, wait_for_status
from tests.browser.test_newuser_loop_failures import ODD_FAIL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def odd_items_fail(parallel: dict[str, Any]) -> dict[str, Any]:
    """Odd items reach a `fail` node (behind a condition); even ones end at the condition:
    the new user's loop of test_newuser_loop_failures, with the loop's `parallel` policy."""
    definition = copy.deepcopy(ODD_FAIL)
    loop = next(n for n in definition["nodes"] if n["id"] == "loop")
    loop["config"]["parallel"] = parallel
    return definition


def badge(page: Any, node: str) -> tuple[str | None, str]:
    selector = f"[data-testid=status-{node}]"
    return page.get_attribute(selector, "data-status"), page.inner_text(selector).strip().lower()


def test_a_body_node_of_a_loop_that_succeeded_says_how_many_items_failed(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Odd", "definition": odd_items_fail({"onPartialFailure": "continue"})})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4]}})

    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_function("([s]) => document.querySelector(s)?.textContent === 'succeeded'", arg=[STATUS], timeout=20_000)
    page.wait_for_selector("[data-testid=status-boom]")
    assert badge(page, "loop") == ("succeeded", "succeeded")
    # Not a bare "failed" under a loop that succeeded: how many of its items.
    assert badge(page, "boom") == ("partial", "2 of 4 failed")
    assert "its loop succeeded" in (page.get_attribute("[data-testid=status-boom]", "title") or "")
    assert badge(page, "check")[0] == "succeeded"
    # The node's run data says the same as its badge.
    open_node(page, "boom")
    assert page.inner_text("[data-testid=run-data-status]") == "2 of 4 failed (its loop succeeded)"

    # The run page's small canvas says the same (it showed the colour of whichever item ended last).
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    boom = page.locator("[data-testid=mini-canvas] .react-flow__node[data-id='boom']")
    boom.wait_for()
    assert boom.get_attribute("aria-label") == "Boom: 2 of 4 failed"
    assert page_errors.unexpected() == []


def test_a_body_node_of_a_loop_that_failed_still_says_failed(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Odd", "definition": odd_items_fail({})})
    api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4]}})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_function("([s]) => document.querySelector(s)?.textContent === 'failed'", arg=[STATUS], timeout=20_000)
    page.wait_for_selector("[data-testid=status-boom]")
    assert badge(page, "loop")[0] == "failed"
    assert badge(page, "boom") == ("failed", "failed")
    assert page_errors.unexpected() == []


CUT = {
    "schemaVersion": 1, "name": "Cut", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "loop", "type": "loop", "name": "Charge all", "position": {"x": 250, "y": 0},
         "config": {"arrayPath": "{{input.items}}", "maxConcurrency": 3, "parallel": {"cancelOnFailure": True}}},
        {"id": "work", "type": "delay", "name": "Work", "parentId": "loop", "position": {"x": 20, "y": 60},
         "config": {"duration": "{{item.ms}}"}},
        {"id": "check", "type": "transform", "name": "Check", "parentId": "loop", "position": {"x": 260, "y": 60},
         "config": {"operation": "custom", "expression": "if (item.fail) throw new Error('card declined'); return item.ms;"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "loop"},
        {"id": "e2", "source": "work", "target": "check"},
    ],
}


def test_items_cut_by_cancel_on_failure_are_counted_as_cancelled(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Cut", "definition": CUT})
    items = [{"ms": 50, "fail": True}, {"ms": 5000}, {"ms": 5000}]
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": items}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    # The run's error counted the two cut items as failures: "3 of 3 items failed".
    page.wait_for_selector("[data-testid=run-error] .tl-error-text")
    assert "1 of 3 items failed; 2 cancelled" in page.inner_text("[data-testid=run-error] .tl-error-text")
    page.wait_for_function("() => document.querySelector('[data-testid=lane-fold]')?.textContent.includes('cancelled')")
    lane = str(page.inner_text("[data-testid=lane-fold]")).strip(" ▾▸")
    assert lane.endswith("Charge all · 3 items · 1 failed · 2 cancelled"), lane
    assert page_errors.unexpected() == []
