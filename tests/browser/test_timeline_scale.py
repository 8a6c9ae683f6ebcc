"""The timeline read at every scale, by mouse and by keyboard (issue 16, point 6).

A run of a few milliseconds fills the chart with an axis in milliseconds and says its nodes
ran one at a time (no "0.86×"); its header shows the input and the error. A rate-limited
loop with failing items: bars labelled with their item number, a note that the rate limit
held the concurrency, folding by keyboard into a strip whose colours match the items, bars
reached with Tab and opened with Enter, Escape closing the details. A paused run shades
its paused time; a re-run from the header starts the latest version with an edited input.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser.helpers import api_post, rate_limited_loop, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}}


def create(page: Any, definition: dict[str, Any]) -> dict[str, Any]:
    return api_post(page, "/api/workflows", {"name": definition["name"], "definition": definition})


def run(page: Any, workflow: dict[str, Any], run_input: dict[str, Any]) -> dict[str, Any]:
    return api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": run_input})


def tiny_failing() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Tiny", "settings": {},
        "nodes": [START,
                  {"id": "check", "type": "log", "name": "Check", "position": {"x": 250, "y": 0},
                   "config": {"message": "order {{input.order}}"}},
                  {"id": "decline", "type": "fail", "name": "Decline", "position": {"x": 500, "y": 0},
                   "config": {"message": "Card declined for order {{input.order}}"}}],
        "edges": [{"id": "e1", "source": "start", "target": "check"}, {"id": "e2", "source": "check", "target": "decline"}],
    }


ITEMS = [1, 2, 91, 3, 4, 92, 5, 6, 93, 7, 8, 9]  # 91-93: no such user (404), the item fails



def ms_of(label: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+) (µs|ms|s|min|h)", label).groups()  # type: ignore[union-attr]
    return float(value) * {"µs": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}[unit]


def test_a_run_of_a_few_milliseconds_fills_the_chart_and_shows_its_error(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = create(page, tiny_failing())
    execution = run(page, workflow, {"order": 42})
    page.goto(f"/executions/{execution['id']}/")
    wait_for_status(page, "failed")
    page.wait_for_selector("[data-testid=timeline-bar][data-node-id=decline][data-status=failed]")

    # The header says why it failed (and where) and what it was given, without clicking a bar.
    assert "Card declined for order 42" in page.text_content("[data-testid=run-error] summary")
    assert "Decline" in page.text_content("[data-testid=run-error] summary")
    assert '{"order":42}' in page.text_content("[data-testid=run-input] summary")
    # Finished: not "live"; and no average concurrency for a chain of three quick nodes.
    assert page.locator("[data-testid=stream-state]").count() == 0
    assert page.text_content("[data-testid=achieved-concurrency]") == "one at a time"

    # The axis is in milliseconds (or less) and the bars spread over the chart.
    ticks = [t for t in page.locator("[data-testid=axis-tick]").all_text_contents() if t != "0"]
    assert len(ticks) >= 3, ticks
    assert all(ms_of(t) < 1000 for t in ticks), ticks
    chart = page.locator("[data-testid=gantt] svg").bounding_box()
    right = max(b["x"] + b["width"] for b in (page.locator("[data-testid=timeline-bar] rect.tl-run").nth(i).bounding_box()
                                             for i in range(3)))
    # (A 500 ms floor on the axis, as before, put a 7 ms run in the first 2 % of the chart.)
    assert right > chart["x"] + chart["width"] * 0.4, "the bars of a short run are squeezed to the left"

    # Zoom in: the view narrows; Fit brings the whole run back.
    span = float(page.get_attribute("[data-testid=gantt] svg", "data-span-ms"))
    page.click("[data-testid=gantt-zoom-in]")
    page.click("[data-testid=gantt-zoom-in]")
    zoomed = float(page.get_attribute("[data-testid=gantt] svg", "data-span-ms"))
    assert zoomed < span / 2
    page.click("[data-testid=gantt-fit]")
    assert float(page.get_attribute("[data-testid=gantt] svg", "data-span-ms")) == pytest.approx(span, rel=0.01)
    assert page_errors.unexpected() == []


def test_a_rate_limited_loop_by_keyboard(logged_in_page: Any, page_errors: Any, live_server_url: str):
    page = logged_in_page
    workflow = create(page, rate_limited_loop(live_server_url, 2))
    execution = run(page, workflow, {"items": ITEMS})
    page.goto(f"/executions/{execution['id']}/")
    wait_for_status(page, "succeeded", timeout=30_000)
    body = "[data-testid=timeline-bar][data-node-id=fetch]"
    page.wait_for_selector(f"{body}[data-status=failed]")
    assert page.locator(f"{body}[data-status=failed]").count() == 3

    # Loop bars carry their item number (a short bar at least its number).
    labels = page.locator(f"{body}[data-status=succeeded] [data-testid=bar-label]").all_text_contents()
    assert len(labels) == 9 and all(re.fullmatch(r"Profile · item \d+|#\d+", t) for t in labels), labels
    assert "Profile · item 1" in labels or "#1" in labels
    # Why only a few items ran at once although 10 were allowed.
    note = page.text_content("[data-testid=concurrency-note]")
    assert "Fetch profiles" in note and "of 10 at once" in note and "rate limit (2 items/s)" in note, note

    # Fold with the keyboard: the fold control is a real button that takes the focus.
    fold = page.locator("[data-testid=timeline-lane][data-lane-id='loop:loop'] [data-testid=lane-fold]")
    fold.focus()
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    assert fold.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Enter")
    assert fold.get_attribute("aria-expanded") == "false"
    assert page.locator(body).count() == 0
    # The folded strip shows the failures in the failure colour, and the successes.
    cells = page.locator("[data-testid=density-cell]")
    statuses = set(cells.evaluate_all("els => els.map(e => e.getAttribute('data-status'))"))
    assert {"failed", "succeeded"} <= statuses, statuses
    red = page.locator("[data-testid=density-cell][data-status=failed]").first.get_attribute("fill")
    assert red == "#fa5252"
    page.keyboard.press("Space")
    assert fold.get_attribute("aria-expanded") == "true"

    # Tab from the fold button reaches the items' bars; the focused bar shows a ring; Enter opens it.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('data-testid')")
    assert focused == "timeline-bar"
    ring = page.evaluate("getComputedStyle(document.activeElement.querySelector('rect.tl-run, rect.tl-never')).strokeWidth")
    assert ring == "3px"
    name = page.evaluate("document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("Enter")
    panel = page.locator("[data-testid=side-panel]")
    panel.wait_for()
    assert name.startswith(panel.locator("[data-testid=panel-title]").text_content())
    assert panel.locator("[data-testid=panel-item]").count() == 1
    page.keyboard.press("Escape")
    assert panel.count() == 0
    assert page_errors.unexpected() == []


def test_paused_time_is_shaded_and_a_rerun_takes_the_latest_version_with_new_input(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    definition = {
        "schemaVersion": 1, "name": "Slow", "settings": {},
        "nodes": [START,
                  {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 250, "y": 0}, "config": {"duration": 4000}},
                  {"id": "done", "type": "output", "name": "Done", "position": {"x": 500, "y": 0},
                   "config": {"value": "{{input.order}}"}}],
        "edges": [{"id": "e1", "source": "start", "target": "wait"}, {"id": "e2", "source": "wait", "target": "done"}],
    }
    workflow = create(page, definition)
    execution = run(page, workflow, {"order": 42})
    page.goto(f"/executions/{execution['id']}/")
    wait_for_status(page, "running")
    page.click("[data-testid=signal-pause]")
    wait_for_status(page, "paused")
    time.sleep(0.8)
    page.click("[data-testid=signal-resume]")
    page.click("[data-testid=resume-send]")
    wait_for_status(page, "succeeded", timeout=30_000)
    shaded = page.locator("[data-testid=paused-span]")
    shaded.first.wait_for()
    assert float(shaded.first.get_attribute("data-paused-ms")) >= 700
    assert (shaded.first.locator("rect").bounding_box() or {}).get("width", 0) > 20
    assert ms_of(page.text_content("[data-testid=paused-time]")) >= 700
    assert "42" in page.text_content("[data-testid=run-output]")

    # A second version of the workflow (the output says which), then re-run on it with another input.
    definition["nodes"][2]["config"]["value"] = "v2 {{input.order}}"
    response = page.request.patch(f"/api/workflows/{workflow['id']}", data={"definition": definition},
                                  headers={"X-CSRFToken": next(c["value"] for c in page.context.cookies()
                                                               if c["name"] == "csrftoken")})
    assert response.ok, response.text()
    page.click("[data-testid=rerun]")
    dialog = page.locator("[data-testid=rerun-dialog]")
    assert '"order": 42' in dialog.locator("[data-testid=rerun-input]").input_value()
    page.keyboard.press("Escape")  # Escape closes it
    assert dialog.count() == 0
    page.click("[data-testid=rerun]")
    dialog.locator("text=The latest version (v2)").wait_for()
    dialog.locator("[data-testid=rerun-latest]").check()
    dialog.locator("[data-testid=rerun-input]").fill('{"order": 7}')
    dialog.locator("[data-testid=rerun-submit]").click()
    page.wait_for_url(re.compile(rf"/executions/(?!{execution['id']}/)\d+/$"))
    wait_for_status(page, "succeeded", timeout=30_000)
    assert "v2 7" in page.text_content("[data-testid=run-output]")
    assert '{"order":7}' in page.text_content("[data-testid=run-input] summary")
    assert page_errors.unexpected() == []
