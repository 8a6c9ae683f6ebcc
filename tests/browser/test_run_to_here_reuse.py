""""Run to here" reusing the last run's outputs, in Chromium: after a whole run, a person
opens the last node, clicks **▶ Run to here**, and the dialog offers (ticked) to reuse that
run's outputs for the nodes before it; the run page then shows the node before it as taken
"from #N", with a link to that run. Unticked, the node runs again."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Execution
from tests.browser.a11y import assert_accessible
from tests.browser.canvas import open_node, set_code_field
from tests.browser.helpers import api_get, api_post
from tests.browser.test_run_to_here import newest_execution, transform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Price then total", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 100}, "config": {}},
            # Math.random(): an output that only reuse makes the same twice.
            transform("prices", "Prices", 300, 100, "return {price: 10, draw: Math.random()}"),
            transform("total", "Total", 600, 100, "return {total: input.price * 3, draw: input.draw}"),
        ],
        "edges": [{"id": "e1", "source": "start", "target": "prices"}, {"id": "e2", "source": "prices", "target": "total"}],
    }


def run_to_total(page: Any, *, reuse: bool) -> dict[str, Any]:
    open_node(page, "total")
    page.click("[data-testid=run-to-here]")
    page.wait_for_selector("[data-testid=run-dialog]")
    box = page.locator("[data-testid=run-reuse]")
    assert box.is_checked()  # offered, ticked, once the workflow has a finished run
    if not reuse:
        box.uncheck()
        assert "runs again" in page.inner_text("[data-testid=run-reuse-help]")
    before = {e["id"] for e in api_get(page, "/api/executions")}
    page.click("[data-testid=run-submit]")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")
    return newest_execution(page, before)


def test_run_to_here_reuses_the_last_runs_outputs(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Price then total", "definition": definition()})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=node-total]")

    # No run yet: Run to here offers nothing to reuse.
    open_node(page, "total")
    page.click("[data-testid=run-to-here]")
    page.wait_for_selector("[data-testid=run-dialog]")
    assert page.query_selector("[data-testid=run-reuse]") is None
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")

    before = {e["id"] for e in api_get(page, "/api/executions")}
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    assert page.query_selector("[data-testid=run-reuse]") is None  # ▶ Run never reuses
    page.click("[data-testid=run-submit]")
    whole = newest_execution(page, before)
    assert whole["status"] == "succeeded"
    draw = {r["nodeId"]: r for r in whole["nodeRuns"]}["prices"]["output"]["draw"]

    page.keyboard.press("Escape")
    open_node(page, "total")
    page.click("[data-testid=run-to-here]")
    page.wait_for_selector("[data-testid=run-reuse]")
    label = page.inner_text("label[for=run-reuse]")
    assert label == f"Reuse outputs of run #{whole['id']} for the nodes before Total"
    # Before starting, the dialog says what would be reused, asked of the server with the
    # input in the box; another input reuses nothing, and says why.
    known = "[data-testid=run-reuse-preview][data-state=known]"
    page.wait_for_selector(known)
    assert page.inner_text(known) == "Reused without running: Prices; every other node up to Total runs."
    assert_accessible(page, "[data-testid=run-dialog]")
    set_code_field(page, "run-input", '{"n": 7}')
    page.wait_for_function(
        "(s) => document.querySelector(s)?.textContent.startsWith('The input differs from run')", arg=known)
    assert page.inner_text(known) == f"The input differs from run #{whole['id']}'s: nothing is reused."
    page.uncheck("[data-testid=run-reuse]")
    page.wait_for_selector("[data-testid=run-reuse-preview]", state="detached")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")

    reused = run_to_total(page, reuse=True)
    runs = {r["nodeId"]: r for r in reused["nodeRuns"]}
    assert runs["prices"]["reusedFrom"] == whole["id"]
    assert runs["total"]["output"] == {"total": 30, "draw": draw}  # the same draw: prices did not run
    assert f"reusing 1 node from #{whole['id']}" in page.inner_text("body")  # the toast

    open_node(page, "prices")  # the editor's run data names the run too
    assert page.get_attribute("[data-testid=run-data-reused-from]", "href") == f"/executions/{whole['id']}/"
    page.keyboard.press("Escape")

    page.goto(f"/executions/{reused['id']}/")
    bar = page.locator("[data-testid=timeline-bar][data-node-id=prices]")
    bar.wait_for(timeout=10_000)
    assert bar.get_attribute("data-reused-from") == str(whole["id"])
    assert f"from #{whole['id']}" in (bar.get_attribute("aria-label") or "")
    assert "pinned" not in (bar.get_attribute("aria-label") or "")
    chip = page.inner_text("[data-testid=reused-chip]")
    assert chip == f"reused 1 node from #{whole['id']}"
    bar.click()
    link = page.locator("[data-testid=panel-reused-from]")
    assert link.get_attribute("href") == f"/executions/{whole['id']}/"

    # The source run deleted since (here by hand; retention does the same): no link to a page
    # that is not found, but the number, marked deleted.
    Execution.objects.filter(pk=whole["id"]).delete()
    page.reload()
    page.wait_for_selector("[data-testid=reused-chip]")
    assert page.inner_text("[data-testid=reused-chip]") == f"reused 1 node from #{whole['id']} (deleted)"
    assert page.query_selector("[data-testid=reused-chip] a") is None
    page.locator("[data-testid=timeline-bar][data-node-id=prices]").click()
    assert page.inner_text("[data-testid=panel-reused-from]") == f"run #{whole['id']} (deleted)"
    assert page.get_attribute("[data-testid=panel-reused-from]", "href") is None

    # Unticked, Prices runs again: a new draw, nothing reused.
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=node-total]")
    open_node(page, "prices")
    assert page.inner_text("[data-testid=run-data-reused-from]") == f"run #{whole['id']} (deleted)"
    assert page.get_attribute("[data-testid=run-data-reused-from]", "href") is None
    page.keyboard.press("Escape")
    again = run_to_total(page, reuse=False)
    runs = {r["nodeId"]: r for r in again["nodeRuns"]}
    assert runs["prices"]["reusedFrom"] is None and runs["prices"]["pinned"] is False
    assert runs["total"]["output"]["draw"] != draw
    page.goto(f"/executions/{again['id']}/")
    page.wait_for_selector("[data-testid=timeline-bar][data-node-id=prices]", timeout=10_000)
    assert page.query_selector("[data-testid=reused-chip]") is None
    assert not page_errors.messages, page_errors.messages
