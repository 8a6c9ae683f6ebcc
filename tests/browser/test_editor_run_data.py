"""Run data on the canvas, re-run and approvals from the editor (issue 16), in Chromium.

Journeys a person does end to end: build a fan-out and merge, run it and read each node's
input and output on the canvas; re-run an execution with an edited input; approve a
waiting approval from the canvas with a comment; fix the JavaScript of a failed run in a
new version and replay its dead letter on that version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post
from tests.browser.test_editor import connect, create_workflow, drop_from_palette, set_code_field

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATUS = "[data-testid=execution-status]"


def wait_text(page: Any, selector: str, text: str, timeout: float = 20_000) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text],
                           timeout=timeout)


def open_node(page: Any, node_id: str) -> None:
    page.click(f".react-flow__node[data-id='{node_id}'] .fm-node-name")
    page.wait_for_selector("[data-testid=node-panel]")


def test_build_a_fan_out_and_merge_run_it_and_read_run_data_on_the_nodes(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow_id = create_workflow(page, "Fan out")
    a = drop_from_palette(page, "set", 480, 200)
    b = drop_from_palette(page, "set", 480, 460)
    merge = drop_from_palette(page, "merge", 800, 330)
    for node in (a, b):
        connect(page, "start", node)
        connect(page, node, merge)
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 4")

    page.click("[data-testid=run]")
    set_code_field(page, "run-input", '{"n": 7}')
    page.click("[data-testid=run-submit]")
    wait_text(page, STATUS, "succeeded")

    # Every node carries its status in this run, and the run bar reads as a success.
    for node in ("start", a, b, merge):
        assert page.get_attribute(f"[data-testid=status-{node}]", "data-status") == "succeeded"
    assert page.get_attribute("[data-testid=run-bar]", "data-tone") == "ok"

    # Clicking the merge shows what came in (both branches) and what it produced.
    open_node(page, merge)
    panel = page.wait_for_selector("[data-testid=run-data]")
    assert "succeeded" in panel.inner_text()
    merged_in = json.loads(page.inner_text("[data-testid=run-data-input]"))
    assert set(merged_in) == {"branch_a", "branch_b"}, merged_in
    assert page.inner_text("[data-testid=run-data-output]").strip() not in ("", "—")

    # The start node's input is the run's input.
    open_node(page, "start")
    assert json.loads(page.inner_text("[data-testid=run-data-input]")) == {"n": 7}

    # A reload shows the latest run's data again (the latest run is the default).
    page.reload()
    wait_text(page, STATUS, "succeeded")
    assert page.get_attribute(f"[data-testid=status-{merge}]", "data-status") == "succeeded"
    runs = api_get(page, f"/api/executions?workflow={workflow_id}")
    assert len(runs) == 1
    assert page_errors.unexpected() == []
