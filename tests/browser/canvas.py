"""Driving the canvas editor the way a person does (palette drag and drop, dragging handles,
the node panel, code fields, Ctrl+S), shared by the editor's browser tests."""

from __future__ import annotations

import re
from typing import Any

EDITOR_URL = re.compile(r".*/workflows/(\d+)/$")


def create_workflow(page: Any, name: str) -> str:
    """Create a workflow from the list page; returns its id once the editor is open. The
    editor stores nothing until the first save (no empty drafts piling up), so it saves."""
    page.goto("/workflows/")
    page.fill("[data-testid=new-workflow-name]", name)
    page.click("[data-testid=create-workflow]")
    page.wait_for_selector("[data-testid=editor]")
    page.wait_for_selector("[data-testid=save-state]:has-text('Not saved yet')")
    page.keyboard.press("Control+s")
    page.wait_for_url(EDITOR_URL)
    match = EDITOR_URL.match(page.url)
    assert match
    return match.group(1)


def node_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(".react-flow__node", "els => els.map(e => e.getAttribute('data-id'))")


def edge_count(page: Any) -> int:
    return page.locator(".react-flow__edge").count()


def drop_from_palette(page: Any, node_type: str, x: float, y: float) -> str:
    """Drag a palette item onto the canvas at (x, y) canvas-pixels; returns the new node id."""
    before = set(node_ids(page))
    page.drag_and_drop(f"[data-testid=palette-{node_type}]", "[data-testid=canvas]", target_position={"x": x, "y": y})
    page.wait_for_function(
        "n => document.querySelectorAll('.react-flow__node').length > n", arg=len(before)
    )
    (new_id,) = set(node_ids(page)) - before
    return new_id


def center(page: Any, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box, f"{selector} is not on screen"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Any, source: str, target: str, handle: str = "out") -> None:
    """Drag from a node's output handle to another node's input handle."""
    sx, sy = center(page, f"[data-testid=handle-out-{source}-{handle}]")
    tx, ty = center(page, f"[data-testid=handle-in-{target}]")
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=5)
    page.mouse.move(tx, ty, steps=5)
    page.mouse.up()


def node_box(page: Any, node_id: str) -> dict[str, float]:
    box = page.locator(f".react-flow__node[data-id='{node_id}']").bounding_box()
    assert box
    return box


def drag_node(page: Any, node_id: str, dx: float, dy: float, grip: tuple[float, float] = (60, 14)) -> None:
    box = node_box(page, node_id)
    x, y = box["x"] + grip[0], box["y"] + grip[1]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=6)
    page.mouse.move(x + dx, y + dy, steps=6)
    page.mouse.up()


def save(page: Any) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_selector("[data-testid=save-state]:has-text('Saved')")


def set_code_field(page: Any, test_id: str, text: str) -> None:
    page.click(f"[data-testid='{test_id}'] .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def open_node(page: Any, node_id: str) -> None:
    """Click a node on the canvas and wait for its panel."""
    page.click(f".react-flow__node[data-id='{node_id}'] .fm-node-name")
    page.wait_for_selector(f"[data-testid=node-panel-id]:has-text('{node_id}')")
