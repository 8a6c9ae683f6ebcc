"""Small follow-ups of a new user's pass, in Chromium.

Probed: the 0 ms Merge after a loop was a 3 px sliver against the end of the loop's bar on
the timeline, read as part of it; and a node dropped from the palette onto Start lay on top
of it, hiding it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import drop_from_palette, node_box
from tests.browser.helpers import api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_zero_ms_merge_after_a_loop_is_a_mark_of_its_own_on_top(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    definition = loop_definition(4, 200)
    definition["nodes"].append({"id": "join", "type": "merge", "name": "Merge", "position": {"x": 700, "y": 0}, "config": {}})
    definition["edges"].append({"id": "e2", "source": "loop", "target": "join"})
    workflow = api_post(page, "/api/workflows", {"name": "Loop then merge", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3, 4, 5, 6]}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    merge = page.locator("[data-testid=timeline-bar][data-node-id=join]")
    mark = merge.locator("[data-testid=instant-mark]")
    mark.wait_for()
    box = mark.bounding_box()
    assert box and box["width"] >= 10 and box["height"] >= 10
    # What is under the pointer at the mark's centre is the Merge, not the loop's bar or a name.
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid=timeline-bar]')?.dataset.nodeId",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit == "join"
    labels = page.eval_on_selector_all("[data-testid=bar-label]", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; })")
    for left, right, top, bottom in labels:
        overlaps = left < box["x"] + box["width"] and box["x"] < right and top < box["y"] + box["height"] and box["y"] < bottom
        assert not overlaps, (left, right, box)
    assert page_errors.unexpected() == []


def test_a_node_dropped_onto_start_lands_beside_it(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Drop")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    start = node_box(page, "start")
    canvas = page.locator("[data-testid=canvas]").bounding_box()
    assert canvas
    new_id = drop_from_palette(page, "http", start["x"] - canvas["x"] + start["width"] / 2,
                               start["y"] - canvas["y"] + start["height"] / 2)
    dropped = node_box(page, new_id)
    start = node_box(page, "start")
    apart = (dropped["x"] >= start["x"] + start["width"] or start["x"] >= dropped["x"] + dropped["width"]
             or dropped["y"] >= start["y"] + start["height"] or start["y"] >= dropped["y"] + dropped["height"])
    assert apart, (start, dropped)
    # Start is still there to click.
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    assert page_errors.unexpected() == []
