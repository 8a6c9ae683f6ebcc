"""Where the run's input is, in Chromium (a new user's pass).

Probed: a workflow Start → Merge of three calls → Loop, run with `{"items": [1, 2, 3]}`,
its Loop's arrayPath `{{input.items}}`. The Run dialog said "The input becomes {{input}}",
so `{{input.items}}` looked right, and the run failed with "arrayPath '{{input.items}}'
resolved to nothing (null)": in a node, `{{input}}` is what the node before it passed on
(here the first call's response). Now the dialog names `{{start}}` as the run's input in
every node, and the failure says so too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Items", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "shape", "type": "transform", "name": "Shape", "position": {"x": 250, "y": 0},
             "config": {"operation": "custom", "expression": "return {count: 3}"}},
            {"id": "loop", "type": "loop", "name": "Each item", "position": {"x": 500, "y": 0},
             "config": {"arrayPath": "{{input.items}}", "parallel": True}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 900, "y": 0}, "config": {}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "shape"}, {"id": "e2", "source": "shape", "target": "loop"},
                  {"id": "e3", "source": "loop", "target": "o"}],
    }


def test_the_run_dialog_and_a_failed_input_template_name_start_as_the_runs_input(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Items", "definition": definition()})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=node-loop]")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    words = page.inner_text("[data-testid=run-dialog] .fm-help >> nth=0")
    assert "{{start}} in every node" in words, words
    page.click("[data-testid=run-dialog] .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text('{"items": [1, 2, 3]}')
    page.click("[data-testid=run-submit]")
    page.wait_for_selector("[data-testid=execution-status][data-status=failed]", timeout=20_000)
    error = page.inner_text("[data-testid=execution-error]")
    assert "'{{input.items}}' resolved to nothing" in error
    assert "the run's input is {{start}} in every node" in error, error
    assert page_errors.unexpected() == []
