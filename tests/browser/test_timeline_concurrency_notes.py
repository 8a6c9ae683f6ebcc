"""Why concurrency stayed below its limit, for every parallel container (issue 16, point 6):
a fan-out of four branches under a workflow `maxConcurrency` of 2 says the workflow's limit
held it (as a rate-limited loop says its rate limit did), and the run as a whole says so too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def node(id: str, type: str, name: str, x: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": id, "type": type, "name": name, "position": {"x": x, "y": 0}, "config": config or {}}


def capped_fan_out() -> dict[str, Any]:
    branches = ["a", "b", "c", "d"]
    return {
        "schemaVersion": 1, "name": "Capped fan-out", "settings": {"maxConcurrency": 2},
        "nodes": [node("start", "start", "Start", 0),
                  *[node(b, "delay", f"Step {b}", 250, {"duration": 300}) for b in branches],
                  node("j", "merge", "Collect", 500)],
        "edges": [*[{"id": f"s{b}", "source": "start", "target": b} for b in branches],
                  *[{"id": f"{b}j", "source": b, "target": "j"} for b in branches]],
    }


def test_a_fan_out_says_the_workflows_limit_held_it(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Capped fan-out", "definition": capped_fan_out()})
    execution = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{execution['id']}/")
    wait_for_status(page, "succeeded", timeout=30_000)
    page.wait_for_selector("[data-testid=concurrency-note]")
    notes = page.locator("[data-testid=concurrency-note]").all_text_contents()
    assert "Collect: 2 of 2 at once — held at the workflow's maxConcurrency (2)" in notes, notes
    assert "This run: 2 of 2 at once — held at the workflow's maxConcurrency (2)" in notes, notes
    assert page_errors.unexpected() == []
