"""On a run's page, "Redrive failed" after one of its loop items was replayed from the Dead
letters page: the refusal names the item and the replay's run in the redrive dialog itself
(it was written behind the dialog's backdrop, so Redrive seemed to do nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, api_wait_finished, wait_for_status
from tests.engine.definitions import loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def test_redrive_of_a_run_whose_item_was_replayed_says_why_not(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    d = loop_definition({"queue": {"deadLetterQueue": True}},
                        [{"id": "charge", "type": "transform", "name": "Charge",
                          "config": {"operation": "custom", "expression": "if (item === 2) { throw new Error('card declined') } return item"}}])
    d["nodes"][1]["name"] = "Each order"
    for i, node in enumerate(d["nodes"]):
        node.setdefault("position", {"x": 200 * i, "y": 0})
    workflow = api_post(page, "/api/workflows", {"name": "Orders", "definition": d})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3]}})
    assert api_wait_finished(page, run["id"])["status"] == "failed"
    [letter] = [x for x in api_get(page, f"/api/dead-letters?execution={run['id']}") if x["itemIndex"] == 1]
    replay = api_post(page, f"/api/dead-letters/{letter['id']}/replay", {"input": 20})
    api_wait_finished(page, replay["id"])

    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    page.click("[data-testid=redrive-failed]")
    page.click("[data-testid=redrive-confirm]")
    error = page.locator("[data-testid=redrive-dialog] [data-testid=redrive-error]")
    error.wait_for()
    text = error.inner_text()
    assert "item 1 of loop Each order" in text and f"execution #{replay['id']}" in text, text
    assert "a second time" in text
    assert page.locator("[data-testid=redrive-dialog]").is_visible()  # still open, with the reason in it
    assert api_get(page, f"/api/executions/{run['id']}")["status"] == "failed"  # nothing ran
    assert page_errors.unexpected(allowed=("409",)) == []  # the refused request's console line
