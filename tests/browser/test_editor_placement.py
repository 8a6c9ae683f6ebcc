"""Placing nodes the way a person expects (issue 16), in Chromium: a new workflow is not
stored until saved; one Start only; Enter on a palette item puts the node right of the
selection and connects it, never on top of another; a dropped Loop is fully in view;
moving a node into a Loop asks first; text stays legible at fit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import EDITOR_URL, drag_node, drop_from_palette, node_box, node_ids
from tests.browser.helpers import api_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def selected_id(page: Any) -> str:
    """The node just added is selected: its id from the side panel (the canvas renders only
    what is in view, so a list of the canvas's nodes may miss one that scrolled away)."""
    return page.inner_text("[data-testid=node-panel-id]").removeprefix("id:").strip()


def test_new_workflow_placement_and_loops(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/")
    page.fill("[data-testid=new-workflow-name]", "Placement")
    page.click("[data-testid=create-workflow]")
    page.wait_for_selector("[data-testid=save-state]:has-text('Not saved yet')")
    # Opening "New workflow" stores nothing: leaving now leaves no empty draft behind.
    assert api_get(page, "/api/workflows") == []

    # One Start only: the new workflow has it, so the palette's Start is unavailable.
    start_item = page.locator("[data-testid=palette-start]")
    assert start_item.get_attribute("aria-disabled") == "true"
    assert start_item.get_attribute("draggable") == "false"
    start_item.focus()
    page.keyboard.press("Enter")
    assert node_ids(page) == ["start"]

    # Enter on a palette item: right of the selected node, connected to it.
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.locator("[data-testid=palette-delay]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__node').length === 2")
    first = selected_id(page)
    start_box, first_box = node_box(page, "start"), node_box(page, first)
    assert first_box["x"] > start_box["x"] + start_box["width"] and abs(first_box["y"] - start_box["y"]) < 2
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 1")

    # The new node is selected: Enter again chains after it.
    page.locator("[data-testid=palette-log]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=node-panel-id]').textContent.includes('log')")
    second = selected_id(page)
    page.wait_for_timeout(300)  # the pan that brings it into view
    first_box = node_box(page, first)
    assert node_box(page, second)["x"] > first_box["x"] + first_box["width"]

    # From Start again: the spot right of Start is taken, so the node goes beside it, not on top.
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.locator("[data-testid=palette-delay]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "known => !known.includes(document.querySelector('[data-testid=node-panel-id]').textContent.replace('id:', '').trim())",
        arg=["start", first, second])
    third = selected_id(page)
    page.keyboard.press("Shift+F")
    page.wait_for_timeout(400)
    boxes = {n: node_box(page, n) for n in ("start", first, second, third)}
    for a in boxes:
        for b in boxes:
            assert a == b or not overlap(boxes[a], boxes[b]), (a, b, boxes)
    assert api_get(page, "/api/workflows") == []

    # A Loop dropped near the right edge ends up fully in view.
    canvas = page.locator("[data-testid=canvas]").bounding_box()
    assert canvas
    loop = drop_from_palette(page, "loop", canvas["width"] - 60, canvas["height"] - 80)
    page.wait_for_timeout(400)
    loop_box = node_box(page, loop)
    assert loop_box["x"] >= canvas["x"] and loop_box["x"] + loop_box["width"] <= canvas["x"] + canvas["width"], loop_box
    assert loop_box["y"] >= canvas["y"] and loop_box["y"] + loop_box["height"] <= canvas["y"] + canvas["height"], loop_box

    # Dragging a node onto the Loop asks; "keep it outside" keeps it outside, "move" moves it in.
    target_box = node_box(page, third)
    dx = loop_box["x"] + 60 - target_box["x"]
    dy = loop_box["y"] + 70 - target_box["y"]
    drag_node(page, third, dx, dy)
    page.wait_for_selector("[data-testid=move-into-loop]")
    page.click("[data-testid=move-into-loop-cancel]")
    page.wait_for_selector("[data-testid=move-into-loop]", state="detached")
    page.keyboard.press("Control+s")
    page.wait_for_url(EDITOR_URL)
    workflow_id = EDITOR_URL.match(page.url).group(1)  # type: ignore[union-attr]
    page.wait_for_selector("[data-testid=save-state]:has-text('Saved')")
    stored = {n["id"]: n for n in api_get(page, f"/api/workflows/{workflow_id}")["definition"]["nodes"]}
    assert "parentId" not in stored[third]
    drag_node(page, third, 10, 10)
    page.wait_for_selector("[data-testid=move-into-loop]")
    page.click("[data-testid=move-into-loop-confirm]")
    page.keyboard.press("Control+s")
    page.wait_for_selector("[data-testid=save-state]:has-text('v2')")
    stored = {n["id"]: n for n in api_get(page, f"/api/workflows/{workflow_id}")["definition"]["nodes"]}
    assert stored[third].get("parentId") == loop
    assert len(api_get(page, "/api/workflows")) == 1

    # Fit view keeps node names legible (at least ~11 px on screen).
    page.keyboard.press("Shift+F")
    page.wait_for_timeout(400)
    size = page.eval_on_selector(
        ".react-flow__node[data-id='start'] .fm-node-name",
        "el => parseFloat(getComputedStyle(el).fontSize) * el.getBoundingClientRect().height / el.offsetHeight")
    assert size >= 10.9, size
    assert page_errors.unexpected() == []
