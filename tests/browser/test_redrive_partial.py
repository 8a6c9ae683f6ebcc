"""A run that succeeded while some loop items failed (`onPartialFailure: "continue"`), in
Chromium. Its timeline offered a redrive per failed item bar only, and its row in the
Executions list nothing. Both now offer "Redrive failed (N items)" with the version choice:
one confirmation re-runs every failed item (and the loop and the output after it, with the
new items' results); the items that succeeded are not run again."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.browser.helpers import api_post, wait_for_status
from tests.engine.definitions import loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLAKY = "if (item.n % 3 === 1) { throw new Error('boom ' + item.n) } return item.n * 2"
FIXED = "return item.n * 2"


def _loop(expression: str) -> dict[str, Any]:
    d = loop_definition({"maxConcurrency": 4, "parallel": {"onPartialFailure": "continue"}},
                        [{"id": "double", "type": "transform", "name": "Double",
                          "config": {"operation": "custom", "expression": expression}}])
    d["name"] = "Partly failing loop"
    d["nodes"][1]["name"] = "Charge all"
    for i, node in enumerate(d["nodes"]):
        node.setdefault("position", {"x": 200 * i, "y": 0})
    return d


def _save_fix(page: Any, workflow_id: int) -> None:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    fixed = page.request.put(f"/api/workflows/{workflow_id}", data=json.dumps(
        {"name": "Partly failing loop", "definition": _loop(FIXED)}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert fixed.ok, fixed.text()


def _wait_redriven(execution_id: int, number: int = 1) -> Execution:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ex = Execution.objects.get(pk=execution_id)
        if ex.status == "succeeded" and (ex.state.get("redrive") or {}).get("number") == number:
            return ex
        time.sleep(0.2)
    raise AssertionError(f"not redriven: {ex.status} {ex.state.get('redrive')}")


def _runs_per_item(execution_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in NodeRun.objects.filter(execution_id=execution_id, node_id="double"):
        counts[r.scope] = counts.get(r.scope, 0) + 1
    return counts


def lane(page: Any) -> str:
    return str(page.inner_text("[data-testid=lane-fold]")).strip(" ▾▸\n")


def test_redrive_every_failed_item_of_a_run_that_succeeded(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Partly failing loop", "definition": _loop(FLAKY)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [{"n": i} for i in range(6)]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    button = page.locator("[data-testid=redrive-failed]")
    button.wait_for()
    assert button.inner_text() == "Redrive failed (2 items)"  # items 1 and 4
    assert lane(page).endswith("Charge all · 6 items · 2 failed"), lane(page)
    before = {r.id for r in NodeRun.objects.filter(execution_id=run["id"])}

    _save_fix(page, workflow["id"])
    button.click()
    assert page.inner_text("#redrive-title") == "Redrive the 2 failed items"
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")
    ex = _wait_redriven(run["id"])
    assert ex.output == {"o": [i * 2 for i in range(6)]}  # the loop's output is whole again
    new = NodeRun.objects.filter(execution_id=run["id"]).exclude(id__in=before)
    assert sorted((r.scope, r.node_id) for r in new) == [("", "loop"), ("", "o"), ("loop#1", "double"), ("loop#4", "double")]
    assert _runs_per_item(run["id"]) == {"loop#0": 1, "loop#1": 2, "loop#2": 1, "loop#3": 1, "loop#4": 2, "loop#5": 1}

    wait_for_status(page, "succeeded", timeout=30_000)
    page.reload()
    wait_for_status(page, "succeeded")
    page.locator("[data-testid=redrive-count]").wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=lane-fold]')?.textContent.includes('failed')")
    assert lane(page).endswith("Charge all · 6 items"), lane(page)
    assert page.locator("[data-testid=redrive-failed]").count() == 0  # nothing failed any more
    assert page_errors.unexpected() == []


def test_redrive_failed_items_from_the_executions_list(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Partly failing loop", "definition": _loop(FLAKY)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [{"n": i} for i in range(6)]}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Execution.objects.get(pk=run["id"]).status != "succeeded":
        time.sleep(0.1)
    page.goto("/executions/")
    row = page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")
    row.locator("[data-testid=row-status]", has_text="succeeded").wait_for()
    button = row.locator("[data-testid=row-redrive]")
    assert button.inner_text() == "Redrive failed (2 items)"
    before = {r.id for r in NodeRun.objects.filter(execution_id=run["id"])}

    _save_fix(page, workflow["id"])
    button.click()
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")
    ex = _wait_redriven(run["id"])
    assert ex.output == {"o": [i * 2 for i in range(6)]} and ex.version.number == 2
    new = NodeRun.objects.filter(execution_id=run["id"]).exclude(id__in=before)
    assert sorted(r.scope for r in new if r.node_id == "double") == ["loop#1", "loop#4"]
    # The row hears the end from the stream: succeeded, with nothing left to redrive.
    row.locator("[data-testid=row-status]", has_text="succeeded").wait_for()
    page.wait_for_function(
        "(id) => !document.querySelector(`[data-execution-id='${id}'] [data-testid=row-redrive]`)", arg=run["id"])
    assert page_errors.unexpected() == []
