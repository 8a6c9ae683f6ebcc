"""Redrive from the timeline (issue 17): a loop with failed items is fixed in a new
version; on the run's timeline the person redrives what failed with the latest version and
sees only those items run again, in the same execution."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.browser.helpers import api_post, wait_for_status
from tests.engine.definitions import loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _loop(expression: str) -> dict[str, Any]:
    d = loop_definition({"maxConcurrency": 4},
                        [{"id": "double", "type": "transform", "name": "Double",
                          "config": {"operation": "custom", "expression": expression}}])
    d["name"] = "Flaky loop"
    for i, node in enumerate(d["nodes"]):
        node.setdefault("position", {"x": 200 * i, "y": 0})
    return d


def test_redrive_a_loop_with_failed_items_reruns_only_those(logged_in_page: Any) -> None:
    page = logged_in_page
    flaky = _loop("if (item.n % 4 === 0) { throw new Error('boom ' + item.n) } return item.n * 2")
    workflow = api_post(page, "/api/workflows", {"name": "Flaky loop", "definition": flaky})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [{"n": i} for i in range(8)]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    button = page.locator("[data-testid=redrive-failed]")
    assert button.inner_text() == "Redrive failed (2 items)"  # items 0 and 4
    before = {r.id for r in NodeRun.objects.filter(execution_id=run["id"], node_id="double")}

    # The fix, saved as a new version.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    fixed = page.request.put(f"/api/workflows/{workflow['id']}", data=json.dumps(
        {"name": "Flaky loop", "definition": _loop("return item.n * 2")}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert fixed.ok, fixed.text()

    button.click()
    # The dialog names the run's version beside "the version this run used".
    assert page.locator("label", has=page.locator("[data-testid=redrive-version-original]")).inner_text().strip() \
        == "the version this run used (v1)"
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Execution.objects.get(pk=run["id"]).status != "succeeded":
        time.sleep(0.2)
    ex = Execution.objects.get(pk=run["id"])
    assert ex.status == "succeeded", (ex.status, ex.error, ex.state.get("redrive"))
    wait_for_status(page, "succeeded", timeout=30_000)
    page.reload()
    wait_for_status(page, "succeeded")
    page.locator("[data-testid=redrive-count]").wait_for()
    assert page.locator("[data-testid=redrive-count]").inner_text() == "redriven 1×"
    # The header's version is v2 now; the items kept from the first attempt ran v1, and says so.
    assert page.locator("[data-testid=redrive-versions]").inner_text() == "(began on v1; redrive 1 on v2)"
    # The redrive's bars say so (label and details); the kept items' bars do not.
    redriven_bar = page.locator("[data-testid=timeline-bar][data-node-id=double][data-iteration='4'][data-attempt='2']")
    assert redriven_bar.get_attribute("aria-label").startswith("Double · item 4 · attempt 2 · redrive 1, succeeded")
    kept_bar = page.locator("[data-testid=timeline-bar][data-node-id=double][data-iteration='1']")
    assert "redrive" not in kept_bar.get_attribute("aria-label")
    redriven_bar.focus()
    page.keyboard.press("Enter")
    assert page.locator("[data-testid=panel-redrive]").inner_text() == "1"

    rows = list(NodeRun.objects.filter(execution_id=run["id"], node_id="double"))
    new = [r for r in rows if r.id not in before]
    assert sorted(r.scope for r in new) == ["loop#0", "loop#4"]
    assert {r.id for r in rows} >= before  # nothing that succeeded was touched
    output = page.request.get(f"/api/executions/{run['id']}").json()["output"]
    assert output == {"o": [i * 2 for i in range(8)]}


def test_redrive_from_the_executions_list(logged_in_page: Any) -> None:
    page = logged_in_page
    d = _loop("if (item.n === 1) { throw new Error('one') } return item.n")
    workflow = api_post(page, "/api/workflows", {"name": "List redrive", "definition": d})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [{"n": 0}, {"n": 1}]}})
    page.goto("/executions/")
    row = page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")
    row.locator("[data-testid=row-status]", has_text="failed").wait_for()
    before = NodeRun.objects.filter(execution_id=run["id"]).count()
    row.locator("[data-testid=row-redrive]").click()
    page.click("[data-testid=redrive-confirm]")  # on the run's own version
    # The same execution runs again (and fails again: version 1 still throws for item 1).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ex = Execution.objects.get(pk=run["id"])
        if ex.status == "failed" and NodeRun.objects.filter(execution_id=run["id"]).count() > before:
            break
        time.sleep(0.1)
    row.locator("[data-testid=row-status]", has_text="failed").wait_for()
    assert ex.status == "failed" and ex.state["redrive"]["number"] == 1
    assert NodeRun.objects.filter(execution_id=run["id"], node_id="double", scope="loop#0").count() == 1
    assert NodeRun.objects.filter(execution_id=run["id"], node_id="double", scope="loop#1").count() == 2


def test_redriving_a_loop_by_its_bar_says_and_runs_every_item(logged_in_page: Any) -> None:
    page = logged_in_page
    d = _loop("if (item.n === 1) { throw new Error('one') } return item.n")
    workflow = api_post(page, "/api/workflows", {"name": "Loop bar redrive", "definition": d})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    page.locator("[data-testid=timeline-bar][data-node-id=loop]").click()
    page.click("[data-testid=redrive-selection]")
    # A loop chosen as a node re-runs all its items (the server decides so): the dialog must
    # not promise that the items that succeeded are kept.
    what = page.locator("[data-testid=redrive-what]").inner_text()
    assert "with every one of its items" in what, what
    page.click("[data-testid=redrive-confirm]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and NodeRun.objects.filter(
            execution_id=run["id"], node_id="double").count() < 6:
        time.sleep(0.1)
    wait_for_status(page, "failed", timeout=30_000)  # version 1 still throws for item 1
    for i in range(3):
        assert NodeRun.objects.filter(execution_id=run["id"], node_id="double", scope=f"loop#{i}").count() == 2
