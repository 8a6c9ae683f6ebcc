"""The screenshots of docs/parallel-execution.md, taken from the real app as a user sees it
(the guide shows what the product does today, not a mock-up): a fan-out and merge in the
editor and on its timeline, a parallel loop with a failing item (unfolded and folded), a run
waiting at an approval on its page, and the executions list. Saved under docs/img/; each is checked for what it must show first."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, ROOT, api_post, fan_out, rate_limited_loop, wait_for_status
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The committed screenshots are rewritten only when asked (FLOWMAESTRO_WRITE_DOC_SCREENSHOTS=1),
# so that a test run leaves the working tree as it found it; otherwise they go to
# test-artifacts/ to look at.
IMG = ROOT / "docs" / "img" if os.environ.get("FLOWMAESTRO_WRITE_DOC_SCREENSHOTS") == "1" else (
    ROOT / "test-artifacts" / "docs-img")


def shot(page: Any, name: str, selector: str | None = None) -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    target = page.locator(selector) if selector else page
    target.screenshot(path=str(IMG / f"{name}.png"))
    assert (IMG / f"{name}.png").stat().st_size > 5_000


def test_screenshots_for_the_parallel_execution_guide(logged_in_page: Any, live_server_url: str, page_errors: Any):
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 760})

    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(800, layer_x=320)})
    page.goto(f"/workflows/{fan['id']}/")
    page.wait_for_selector(".react-flow__node[data-id=aggregate]")
    page.wait_for_timeout(300)
    shot(page, "editor-fan-out")

    run = api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {"order": 42}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=timeline-bar][data-node-id=aggregate]")
    shot(page, "timeline-fan-out", ".tl-page")

    loop = api_post(page, "/api/workflows", {"name": "Fetch profiles", "definition": rate_limited_loop(live_server_url, 4)})
    loop_run = api_post(page, f"/api/workflows/{loop['id']}/run",
                        {"input": {"items": [1, 2, 91, 3, 4, 5, 6, 7]}})
    page.goto(f"/executions/{loop_run['id']}/")
    wait_for_status(page, "succeeded", timeout=30_000)
    page.wait_for_selector("[data-testid=timeline-bar][data-node-id=fetch][data-status=failed]")
    shot(page, "timeline-loop", "[data-testid=gantt]")
    page.locator("[data-testid=lane-fold]").click()
    page.wait_for_selector("[data-testid=density-cell][data-status=failed]")
    shot(page, "timeline-loop-folded", "[data-testid=gantt]")

    refund = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run_until_paused(page, refund["id"])  # and opens its page
    page.wait_for_selector("[data-testid=approval-approve]")
    page.wait_for_selector("[data-testid=timeline-bar][data-node-id=sign_off]")
    shot(page, "timeline-approval", ".tl-page")
    page.goto("/executions/")
    page.wait_for_selector("[data-testid=execution-row][data-status=paused]")
    shot(page, "executions-list")
    page.locator("[data-testid=execution-row][data-status=paused] [data-testid=row-approve]").click()
    page.wait_for_selector("[data-testid=approval-dialog]")
    shot(page, "approval-dialog", "[data-testid=approval-dialog]")
    assert page_errors.unexpected() == []
