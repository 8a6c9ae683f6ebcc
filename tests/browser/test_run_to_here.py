""""Run to here" in the editor (n8n's "execute step"), in Chromium: a person opens one node
of a fan-out, clicks **▶ Run to here**, and only that node and the start run; the other
branch, the join and the output are skipped, on the canvas and in the API. ▶ Run after it
is a whole run again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.canvas import open_node
from tests.browser.helpers import api_get, api_post, api_wait_finished

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def transform(node_id: str, name: str, x: int, y: int, expression: str) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "name": name, "position": {"x": x, "y": y},
            "config": {"operation": "custom", "expression": expression}}


def definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Two branches", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 100}, "config": {}},
            transform("prices", "Prices", 300, 0, "return {price: 10}"),
            transform("stock", "Stock", 300, 200, "return {stock: 3}"),
            {"id": "m", "type": "merge", "name": "Join", "position": {"x": 600, "y": 100}, "config": {"mode": "all"}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 850, "y": 100}, "config": {"value": "{{m}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "prices"}, {"id": "e2", "source": "start", "target": "stock"},
                  {"id": "e3", "source": "prices", "target": "m"}, {"id": "e4", "source": "stock", "target": "m"},
                  {"id": "e5", "source": "m", "target": "o"}],
    }


def newest_execution(page: Any, before: set[int]) -> dict[str, Any]:
    for _ in range(100):
        new = [e for e in api_get(page, "/api/executions") if e["id"] not in before]
        if new:
            return api_wait_finished(page, new[0]["id"])
        page.wait_for_timeout(100)
    raise AssertionError("no run started")


def test_run_to_here_runs_one_branch_and_skips_the_rest(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Two branches", "definition": definition()})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=node-prices]")

    open_node(page, "prices")
    page.click("[data-testid=run-to-here]")
    page.wait_for_selector("[data-testid=run-dialog]")
    assert page.inner_text("#run-title") == "Run to Prices"
    assert "Only Prices and the nodes before it run" in page.inner_text("[data-testid=run-until-help]")
    assert_accessible(page, "[data-testid=run-dialog]")
    before = {e["id"] for e in api_get(page, "/api/executions")}
    page.click("[data-testid=run-submit]")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")
    execution = newest_execution(page, before)

    assert execution["status"] == "succeeded"
    assert execution["output"] == {"Prices": {"price": 10}}
    runs = {r["nodeId"]: r["status"] for r in execution["nodeRuns"]}
    assert runs == {"start": "succeeded", "prices": "succeeded", "stock": "skipped", "m": "skipped", "o": "skipped"}
    # The canvas shows the run: the branch that ran, and the rest skipped.
    page.wait_for_selector("[data-testid=status-prices][data-status=succeeded]")
    for node_id in ("stock", "m", "o"):
        page.wait_for_selector(f"[data-testid=status-{node_id}][data-status=skipped]")
    assert "up to Prices" in page.inner_text("body")  # the toast that the run started
    # Its run page says where it stopped; the skipped nodes say why.
    page.goto(f"/executions/{execution['id']}/")
    assert page.inner_text("[data-testid=run-until]", timeout=10_000) == "run to Prices"
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=node-prices]")

    # ▶ Run is a whole run again: no stop, the dialog says nothing of one.
    page.keyboard.press("Escape")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    assert page.inner_text("#run-title") == "Run workflow"
    assert page.query_selector("[data-testid=run-until-help]") is None
    before = {e["id"] for e in api_get(page, "/api/executions")}
    page.click("[data-testid=run-submit]")
    whole = newest_execution(page, before)
    assert whole["status"] == "succeeded" and {r["status"] for r in whole["nodeRuns"]} == {"succeeded"}
    assert whole["output"] == {"Result": {"branch_a": {"price": 10}, "branch_b": {"stock": 3}}}
    assert not page_errors.messages, page_errors.messages
