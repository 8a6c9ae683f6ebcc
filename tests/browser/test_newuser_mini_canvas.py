"""The run page's small workflow canvas, in Chromium.

It was fitted once, when the page opened. Clicking a bar opens the details beside the
timeline, which narrows the canvas: at 1024×700 the fitted graph then lost Start and the
last nodes over its edges, so the run's shape was cut exactly when a reader looks for where
the selected node run sits. The canvas now fits again whenever its size changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mini_nodes_outside(page: Any) -> list[str]:
    return list(page.evaluate("""() => {
        const pane = document.querySelector('[data-testid=mini-canvas]').getBoundingClientRect();
        return [...document.querySelectorAll('[data-testid=mini-canvas] .react-flow__node')]
            .filter(el => { const b = el.getBoundingClientRect();
                            return b.left < pane.left - 1 || b.right > pane.right + 1 || b.top < pane.top - 1 || b.bottom > pane.bottom + 1; })
            .map(el => el.getAttribute('data-id'));
    }"""))


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_the_workflow_canvas_still_shows_every_node_after_a_bar_is_opened(logged_in_page: Any, size: tuple[int, int]) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    definition = fan_out(50)
    workflow = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=mini-canvas] .react-flow__node[data-id='aggregate']")
    page.wait_for_timeout(300)
    assert mini_nodes_outside(page) == []
    # The header's "Critical path" (a checkbox and "N node runs · T") says what it is and
    # what ticking does; it said neither.
    assert "held the run up" in (page.get_attribute("[data-testid=critical-path]", "title") or "")

    page.click("[data-testid=timeline-bar][data-node-id='process_1']")
    page.wait_for_selector("text=Trace id")
    page.wait_for_timeout(500)
    assert mini_nodes_outside(page) == []


def test_a_small_run_is_drawn_at_most_at_the_editors_size(logged_in_page: Any) -> None:
    """React Flow's fit magnified a graph of two nodes up to 2×: two giant boxes filled the
    small canvas. It now fits without magnifying past the editor's size (zoom 1), also
    after the canvas changes size (a bar's details opened beside it)."""
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    definition = {
        "schemaVersion": 1, "name": "Two", "settings": {},
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "out", "type": "output", "name": "Out", "position": {"x": 300, "y": 0},
                   "config": {"value": "{{input}}"}}],
        "edges": [{"id": "e1", "source": "start", "target": "out"}],
    }
    workflow = api_post(page, "/api/workflows", {"name": "Two", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    node = "[data-testid=mini-canvas] .react-flow__node[data-id='out']"
    page.wait_for_selector(node)
    page.wait_for_timeout(300)

    def drawn_width() -> float:
        return float(page.evaluate(f"() => document.querySelector(\"{node}\").getBoundingClientRect().width"))

    laid_out = float(page.evaluate(f"() => document.querySelector(\"{node}\").offsetWidth"))
    assert drawn_width() <= laid_out + 1, (drawn_width(), laid_out)
    page.click("[data-testid=timeline-bar][data-node-id='out']")
    page.wait_for_selector("text=Trace id")
    page.wait_for_timeout(500)
    assert drawn_width() <= laid_out + 1, (drawn_width(), laid_out)
    assert mini_nodes_outside(page) == []
