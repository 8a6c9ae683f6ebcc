"""A run that succeeded while one top-level branch failed (a merge with `onPartialFailure:
"continue"` left it out), in Chromium. Its timeline offered "Redrive failed (1 node run)",
counted from its bars, while its Executions row offered nothing: the two pages used
different definitions. Both now show the engine's count — "Redrive failed (1 node)" — and
the row's button re-runs only that branch (and the merge and output after it)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.browser.helpers import api_post, wait_for_status
from tests.engine.definitions import START, definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "One branch fails"


def _fan(expression: str) -> dict[str, Any]:
    d = definition(
        [START, {"id": "a", "type": "delay", "name": "A", "config": {"duration": 10}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "custom", "expression": expression}},
         {"id": "m", "type": "merge", "name": "Merge", "config": {"parallel": {"onPartialFailure": "continue"}}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
        [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m"), ("m", "o")], name=NAME)
    for i, node in enumerate(d["nodes"]):
        node["position"] = {"x": 200 * i, "y": 0}
    return d


def test_the_list_row_and_the_timeline_offer_the_same_redrive_of_a_failed_branch(logged_in_page: Any,
                                                                                  page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": NAME, "definition": _fan("throw new Error('b is broken')")})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"k": 1}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    on_timeline = page.locator("[data-testid=redrive-failed]")
    on_timeline.wait_for()
    assert on_timeline.inner_text() == "Redrive failed (1 node)"

    page.goto("/executions/")
    row = page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")
    row.locator("[data-testid=row-status]", has_text="succeeded").wait_for()
    button = row.locator("[data-testid=row-redrive]")
    assert button.inner_text() == "Redrive failed (1 node)"
    before = {r.id for r in NodeRun.objects.filter(execution_id=run["id"])}

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    fixed = page.request.put(f"/api/workflows/{workflow['id']}", data=json.dumps(
        {"name": NAME, "definition": _fan("return 'b fixed'")}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert fixed.ok, fixed.text()
    button.click()
    assert page.inner_text("#redrive-title") == f"Redrive the 1 failed node of run #{run['id']}"
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ex = Execution.objects.get(pk=run["id"])
        if ex.status == "succeeded" and (ex.state.get("redrive") or {}).get("number") == 1:
            break
        time.sleep(0.2)
    assert ex.status == "succeeded" and ex.output == {"o": {"branch_a": {"k": 1}, "branch_b": "b fixed"}}, ex.output
    new = NodeRun.objects.filter(execution_id=run["id"]).exclude(id__in=before)
    assert sorted(r.node_id for r in new) == ["b", "m", "o"]  # only the branch, then what follows it
    # The row hears the end from the stream: nothing is left to redrive.
    row.locator("[data-testid=row-status]", has_text="succeeded").wait_for()
    page.wait_for_function(
        "(id) => !document.querySelector(`[data-execution-id='${id}'] [data-testid=row-redrive]`)", arg=run["id"])
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.locator("[data-testid=redrive-count]").wait_for()
    assert page.locator("[data-testid=redrive-failed]").count() == 0
    assert page_errors.unexpected() == []
