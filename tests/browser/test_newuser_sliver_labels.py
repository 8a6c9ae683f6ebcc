"""Timeline bars too narrow for their name, in Chromium. A branch whose only node fails in a
few milliseconds beside a 600 ms branch was a red sliver with no name: the failure a user
opens the page for could not be found by reading, and the main lane's Start and Merge were
two unnamed marks. Such a bar's name is now written beside it where its lane is free, and
two such names never overlap."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_BRANCH_FAILS: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "One branch fails",
    "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "wait", "type": "delay", "name": "Slow call", "position": {"x": 250, "y": -80}, "config": {"duration": 600}},
        {"id": "boom", "type": "fail", "name": "Charge card", "position": {"x": 250, "y": 80},
         "config": {"message": "card declined"}},
        {"id": "join", "type": "merge", "name": "Join", "position": {"x": 500, "y": 0}, "config": {}},
        {"id": "out", "type": "output", "name": "Out", "position": {"x": 750, "y": 0}, "config": {}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "wait"},
        {"id": "e2", "source": "start", "target": "boom"},
        {"id": "e3", "source": "wait", "target": "join"},
        {"id": "e4", "source": "boom", "target": "join"},
        {"id": "e5", "source": "join", "target": "out"},
    ],
}

LABEL_BOXES = """() => [...document.querySelectorAll('[data-testid=timeline-bar]')].flatMap((bar) => {
  const text = bar.querySelector('[data-testid=bar-label]');
  if (!text) return [];
  const r = text.getBoundingClientRect();
  return [{node: bar.dataset.nodeId, lane: bar.dataset.lane, text: text.textContent,
           left: r.left, right: r.right, top: r.top}];
})"""


def test_a_failed_sliver_and_the_main_lane_marks_are_named(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    workflow = api_post(page, "/api/workflows", {"name": "One branch fails", "definition": ONE_BRANCH_FAILS})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    failed = page.locator("[data-testid=timeline-bar][data-node-id=boom]")
    failed.wait_for()
    # The failed bar is a sliver at this scale (a few ms of 600), yet its name can be read.
    assert failed.locator("rect").first.bounding_box()["width"] < 20
    assert failed.locator("[data-testid=bar-label]").text_content() == "Charge card"
    labels = page.evaluate(LABEL_BOXES)
    named = {label["node"] for label in labels}
    assert {"start", "boom", "wait", "join"} <= named, labels
    # Beside its own bar (not somewhere else in the lane), inside the chart.
    chart = page.locator("[data-testid=gantt] svg").bounding_box()
    bar_box = failed.locator("rect").first.bounding_box()
    label = next(label for label in labels if label["node"] == "boom")
    assert 0 <= label["left"] - (bar_box["x"] + bar_box["width"]) <= 10
    assert label["right"] <= chart["x"] + chart["width"]
    # Names on one row never overlap (Join and Out end the run 1 ms apart).
    for a in labels:
        for b in labels:
            if a is not b and abs(a["top"] - b["top"]) < 4:
                assert a["right"] <= b["left"] or b["right"] <= a["left"], (a, b)
    assert page_errors.unexpected() == []
