"""Why a run failed, as the editor's run bar tells it, in Chromium.

A node's failure ends a run with the error `{nodeId, error: {message}}`. The run bar
printed that object as raw JSON (`{"nodeId":"loop","error":{"message":…}}`); the timeline
already reads it as a sentence. The run bar now says the message and the node's name.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.helpers import api_post, loop_definition, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_run_dialog(page: Any) -> dict[str, Any]:
    """A loop workflow of two items, open in the editor with its Run dialog shown."""
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(2, 10)})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='loop']")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    return workflow


def test_the_run_bar_names_the_failed_node_and_its_message_not_json(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    open_run_dialog(page)
    # No `items` in the input: the loop's arrayPath resolves to nothing and the run fails.
    page.click("[data-testid=run-submit]")
    wait_for_status(page, "failed")
    reason = page.inner_text("[data-testid=execution-error]")
    # Template names such as {{input.items}} or {{start}} belong in the sentence; JSON does not.
    assert "{" not in re.sub(r"\{\{[\w.]+\}\}", "", reason), reason
    assert "not an array" in reason, reason
    assert "Parallel Loop" in reason, reason
    assert page_errors.unexpected() == []


def test_a_priority_the_browser_cannot_read_is_refused_not_run_at_the_default(logged_in_page: Any) -> None:
    """"1e" in the Run dialog's number field reaches the page as "" (no priority): the run
    started at the default priority. It is refused like "1.5"."""
    from engine.models import Execution

    page = logged_in_page
    workflow = open_run_dialog(page)
    page.click("[data-testid=run-priority]")
    page.keyboard.type("1e")
    page.click("[data-testid=run-submit]")
    assert page.locator("[data-testid=run-error]").inner_text() == "Priority must be a whole number."
    assert not Execution.objects.filter(workflow_id=workflow["id"]).exists()
