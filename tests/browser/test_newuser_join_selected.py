"""Joining parallel branches from the palette, in Chromium.

A new user builds a fan-out by selecting Start and clicking palette items, then selects the
three branch ends (Shift+click) and clicks Merge. Before, the Merge landed unwired in the
middle of the view, under Start and left of the branches it was meant to join, and each wire
had to be dragged by hand. Now it is placed right of the selected nodes, among them, wired
from each, and one undo takes it back with its wires."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import node_box, save
from tests.browser.helpers import api_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_after_start(page: Any, node_type: str) -> None:
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click(f"[data-testid=palette-{node_type}]")


def test_merge_after_several_selected_nodes_joins_them(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Join")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    for node_type in ("delay", "delay", "fail"):
        add_after_start(page, node_type)
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 3")
    ends = ["delay", "delay_2", "fail"]
    page.click(".react-flow__node[data-id='delay'] .fm-node-name")
    for node_id in ends[1:]:
        page.click(f".react-flow__node[data-id='{node_id}'] .fm-node-name", modifiers=["Shift"])
    page.click("[data-testid=palette-merge]")
    page.wait_for_selector(".react-flow__node[data-id='merge']")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 6")
    assert "Merge joins the 3 selected nodes." in page.inner_text("body")

    # Right of every branch end, and level with them (not under Start, left of them).
    merge = node_box(page, "merge")
    boxes = [node_box(page, n) for n in ends]
    assert merge["x"] >= max(b["x"] + b["width"] for b in boxes)
    assert min(b["y"] for b in boxes) <= merge["y"] <= max(b["y"] for b in boxes)

    # One undo removes the Merge and its three wires together.
    page.keyboard.press("Control+z")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 3")
    assert page.locator(".react-flow__node[data-id='merge']").count() == 0
    page.keyboard.press("Control+Shift+z")
    page.wait_for_selector(".react-flow__node[data-id='merge']")

    save(page)
    workflow_id = page.url.rstrip("/").split("/")[-1]
    edges = api_get(page, f"/api/workflows/{workflow_id}")["definition"]["edges"]
    assert sorted(e["source"] for e in edges if e["target"] == "merge") == sorted(ends)
    assert page_errors.unexpected() == []
