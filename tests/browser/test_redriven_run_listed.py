"""A run that failed yesterday and was redriven today, on the Executions list (wide and on a
phone) and on its own page: it says it was redriven, and its duration is the moments its
attempts took — not the day it sat failed before the redrive (that is in the title, and
"Idle before redrive" on its page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.models import Event, Execution, NodeRun
from tests.browser.helpers import api_post, api_wait_finished, wait_for_status
from tests.engine.definitions import loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = "[data-testid=execution-row][data-execution-id='{}']"


def _flaky() -> dict[str, Any]:
    d = loop_definition({}, [{"id": "f", "type": "transform", "name": "Charge",
                              "config": {"operation": "custom", "expression": "if (item === 3) { throw new Error('boom') } return item"}}])
    d["name"] = "Charges"
    for i, node in enumerate(d["nodes"]):
        node.setdefault("position", {"x": 200 * i, "y": 0})
    return d



def _a_day_earlier(execution_id: int) -> None:
    """It ran yesterday: its times, its node runs' and its events' a day back."""
    ex = Execution.objects.get(pk=execution_id)
    Execution.objects.filter(pk=execution_id).update(created_at=ex.created_at - timedelta(days=1),
                                                     started_at=ex.started_at - timedelta(days=1),
                                                     finished_at=ex.finished_at - timedelta(days=1))
    for model, fields in ((NodeRun, ("queued_at", "started_at", "finished_at")), (Event, ("ts",))):
        for row in model.objects.filter(execution_id=execution_id):
            for field in fields:
                if getattr(row, field) is not None:
                    setattr(row, field, getattr(row, field) - timedelta(days=1))
            row.save(update_fields=list(fields))


def test_a_redriven_run_says_so_and_its_duration_leaves_out_the_idle_day(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Charges", "definition": _flaky()})
    plain = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2]}})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3]}})
    assert api_wait_finished(page, run["id"])["status"] == "failed"
    api_wait_finished(page, plain["id"])
    _a_day_earlier(run["id"])
    api_post(page, f"/api/executions/{run['id']}/redrive", {})  # item 3 fails again, at once
    api_wait_finished(page, run["id"])

    page.goto("/executions/")
    row = page.locator(ROW.format(run["id"]))
    badge = row.locator("[data-testid=row-redriven]")
    badge.wait_for()
    assert badge.inner_text().startswith("redriven ×1 · ")
    assert "Latest redrive:" in (badge.get_attribute("title") or "")
    assert page.locator(ROW.format(plain["id"]) + " [data-testid=row-redriven]").count() == 0
    duration = row.locator("[data-testid=row-duration]")
    # Moments of work, not "24h 0m"; the whole span is in its title.
    assert "h" not in duration.inner_text() and "m " not in duration.inner_text(), duration.inner_text()
    assert "24h 0m" in (duration.get_attribute("title") or ""), duration.get_attribute("title")

    # The phone's card layout: the badge is on the card, inside the window.
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    badge = page.locator(ROW.format(run["id"]) + " [data-testid=row-redriven]")
    badge.wait_for()
    box = badge.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    assert "h" not in page.locator(ROW.format(run["id"]) + " [data-testid=row-duration]").inner_text()

    # Its own page: Elapsed is the active time, and the idle day is said apart.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    elapsed = page.locator("[data-testid=elapsed]")
    assert "h" not in elapsed.inner_text(), elapsed.inner_text()
    assert "24h 0m" in (elapsed.get_attribute("title") or "")
    assert page.locator("[data-testid=idle-time]").inner_text() == "24h 0m"
    assert page_errors.unexpected() == []
