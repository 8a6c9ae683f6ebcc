"""The executions list as a daily user works it (issue 16): find a run by a branch's trace
id, read its version, cancel or re-run several at once, re-run one with another input, and
approve a run that waits at an approval — without leaving the list."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_get, api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = "[data-testid=execution-row][data-execution-id='{}']"


def slow(duration_ms: int) -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Slow", "settings": {},
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 250, "y": 0},
                   "config": {"duration": duration_ms}},
                  {"id": "done", "type": "output", "name": "Done", "position": {"x": 500, "y": 0},
                   "config": {"value": "v1 {{input.n}}"}}],
        "edges": [{"id": "e1", "source": "start", "target": "wait"}, {"id": "e2", "source": "wait", "target": "done"}],
    }


def wait_until(page: Any, path: str, predicate: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api_get(page, path)
        if predicate(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path}: condition not met")


def test_search_by_branch_trace_id_and_read_the_version(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(50)})
    wanted = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    other = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto("/executions/")
    page.locator(ROW.format(other["id"])).wait_for()
    assert page.locator(ROW.format(wanted["id"]) + " [data-testid=row-version]").text_content() == "v1"

    # The third branch's trace id, as copied from a bar or a log line.
    page.fill("[data-testid=filter-trace]", f"{wanted['traceId']}-003")
    page.locator(ROW.format(other["id"])).wait_for(state="detached")
    page.locator(ROW.format(wanted["id"])).wait_for()
    assert page.locator("[data-testid=execution-row]").count() == 1
    # A trace id of nothing: no rows, and the page says so.
    page.fill("[data-testid=filter-trace]", "trace-nothing-003")
    page.wait_for_selector("[data-testid=executions-empty]")
    assert page_errors.unexpected() == []


def test_cancel_two_runs_at_once_then_rerun_them_on_the_latest_version(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    definition = slow(20_000)
    workflow = api_post(page, "/api/workflows", {"name": "Slow", "definition": definition})
    runs = [api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": n}}) for n in (1, 2)]
    page.goto("/executions/")
    for run in runs:
        page.locator(ROW.format(run["id"])).wait_for()
        page.locator(ROW.format(run["id"]) + " [data-testid=execution-check]").check()
    assert page.text_content("[data-testid=bulk-cancel]") == "Cancel 2"
    page.click("[data-testid=bulk-cancel]")
    page.wait_for_selector("text=Cancelled 2 of 2.")
    for run in runs:
        page.locator(ROW.format(run["id"]) + "[data-status=cancelled]").wait_for()

    # v2 is quick and says so; re-run both cancelled runs on it.
    definition["nodes"][1]["config"]["duration"] = 10
    definition["nodes"][2]["config"]["value"] = "v2 {{input.n}}"
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    assert page.request.patch(f"/api/workflows/{workflow['id']}", data={"definition": definition},
                              headers={"X-CSRFToken": token}).ok
    for run in runs:
        page.locator(ROW.format(run["id"]) + " [data-testid=execution-check]").check()
    page.select_option("[data-testid=bulk-version]", "latest")
    page.click("[data-testid=bulk-rerun]")
    page.wait_for_selector("text=Re-ran 2 of 2.")
    reruns = wait_until(page, f"/api/executions?workflow={workflow['id']}",
                        lambda rows: sum(r["status"] == "succeeded" for r in rows) == 2)
    finished = sorted(str(r["output"]) for r in reruns if r["status"] == "succeeded")
    assert all(r["version"] == 2 for r in reruns if r["status"] == "succeeded")
    assert "v2 1" in finished[0] and "v2 2" in finished[1], finished
    for row in (r for r in reruns if r["status"] == "succeeded"):
        page.locator(ROW.format(row["id"]) + "[data-status=succeeded] [data-testid=row-version]").wait_for()
        assert page.locator(ROW.format(row["id"]) + " [data-testid=row-version]").text_content() == "v2"
    assert page_errors.unexpected() == []


def test_rerun_one_with_edited_input_and_approve_from_the_list(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    quick = api_post(page, "/api/workflows", {"name": "Quick", "definition": slow(10)})
    first = api_post(page, f"/api/workflows/{quick['id']}/run", {"input": {"n": 1}})
    refund = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    waiting = api_post(page, f"/api/workflows/{refund['id']}/run", {"input": {}})
    wait_until(page, f"/api/executions/{waiting['id']}", lambda e: e["status"] == "paused")
    page.goto("/executions/")

    # The row says it waits for someone (not just "paused"), and its button what it does.
    row = page.locator(ROW.format(waiting["id"]) + "[data-status=paused]")
    assert row.locator("[data-testid=row-status]").inner_text() == "waiting for approval"
    assert row.locator("[data-testid=row-approve]").inner_text() == "Approve…"
    # Approve with a comment from the list: the run goes on.
    page.locator(ROW.format(waiting["id"]) + "[data-status=paused] [data-testid=row-approve]").click()
    dialog = page.locator("[data-testid=approval-dialog]")
    assert "Manager sign-off" in dialog.text_content() and "Refund over 500 EUR" in dialog.text_content()
    dialog.locator("[data-testid=approval-comment]").fill("ok from the list")
    dialog.locator("[data-testid=approval-dialog-approve]").click()
    page.locator(ROW.format(waiting["id"]) + "[data-status=succeeded]").wait_for()
    decided = api_get(page, f"/api/executions/{waiting['id']}")
    assert decided["output"] == {"Decision": {"approved": True, "comment": "ok from the list"}}

    # Re-run one with another input: the dialog starts from the run's input; Escape closes it.
    page.locator(ROW.format(first["id"]) + " [data-testid=row-rerun]").click()
    rerun = page.locator("[data-testid=rerun-dialog]")
    assert '"n": 1' in rerun.locator("[data-testid=rerun-input]").input_value()
    page.keyboard.press("Escape")
    assert rerun.count() == 0
    page.locator(ROW.format(first["id"]) + " [data-testid=row-rerun]").click()
    rerun.locator("[data-testid=rerun-input]").fill('{"n": 5}')
    rerun.locator("[data-testid=rerun-submit]").click()
    page.wait_for_url("**/executions/*/")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'")
    assert "v1 5" in page.text_content("[data-testid=run-output]")
    assert page_errors.unexpected() == []


def test_older_runs_than_the_newest_200_are_one_click_away(logged_in_page: Any, page_errors: Any):
    """The list loads the newest 200 runs. Before, older ones could not be listed at all;
    now "Show older runs" loads the next page, and disappears when there is none."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from editor.models import Workflow
    from engine.models import Execution

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Many runs", "definition": slow(1)})
    wf = Workflow.objects.get(pk=workflow["id"])
    owner = get_user_model().objects.get(username="casey")
    version = wf.current_version()
    now = timezone.now()
    made = Execution.objects.bulk_create([
        Execution(workflow=wf, version=version, owner=owner, status="succeeded", trace_id=f"trace-old{i:04d}",
                  started_at=now, finished_at=now, created_at=now - timezone.timedelta(seconds=300 - i))
        for i in range(205)])
    oldest = min(made, key=lambda e: e.created_at)
    page.goto("/executions/")
    rows = page.locator("[data-testid=execution-row]")
    page.locator("[data-testid=show-older]").wait_for()
    assert rows.count() == 200
    assert page.locator(ROW.format(oldest.pk)).count() == 0
    page.click("[data-testid=show-older]")
    page.locator(ROW.format(oldest.pk)).wait_for()
    assert rows.count() == 205
    page.locator("[data-testid=show-older]").wait_for(state="detached")
    assert page_errors.unexpected() == []
