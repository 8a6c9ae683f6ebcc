"""Cancelling from a run's page, in Chromium (a new user's pass).

Probed: Cancel… then "Cancel the run" without typing a reason left the run's error as
"cancelled by signal" (engine words for "you pressed Cancel"), shown twice — on the line
and again, unfolded, as `{"message": "cancelled by signal"}`; and a bar of the main lane
said its branch was "main (main)". Now the run says "cancelled from the timeline" (as Pause
says "paused from the timeline"), an error that is only its message stays folded, and the
branch reads "main"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def slow_definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Slow", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 250, "y": 0}, "config": {"duration": 30000}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 500, "y": 0}, "config": {}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "wait"}, {"id": "e2", "source": "wait", "target": "o"}],
    }


def test_cancel_without_a_reason_says_where_it_came_from(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Slow", "definition": slow_definition()})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    page.wait_for_selector("[data-testid=signal-pause]")

    # The delay's bar, on the main lane (it grows while it runs, hence no wait for it to be
    # still): its branch is "main", said once.
    page.click("[data-testid=timeline-bar][data-node-id=wait] rect.tl-run", force=True)
    assert page.inner_text("[data-testid=panel-branch]").strip() == "main"

    page.click("[data-testid=signal-cancel]")
    page.click("[data-testid=cancel-send]")
    wait_for_status(page, "cancelled")
    assert api_get(page, f"/api/executions/{run['id']}")["error"] == {"message": "cancelled from the timeline"}
    page.wait_for_selector("[data-testid=run-error] .tl-error-text")
    assert page.inner_text("[data-testid=run-error] .tl-error-text") == "cancelled from the timeline"
    # Only the message: the JSON under it would repeat it, so it stays folded until asked.
    assert page.get_attribute("[data-testid=run-error]", "open") is None
    assert page_errors.unexpected() == []
