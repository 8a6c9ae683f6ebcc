"""A run with a big input (issue 12): its page shows the input and the result as "large
value (N MB)" with links instead of megabytes of JSON, the link serves the whole value,
the editor's run bar says the same, and re-run works both ways — with the same input
unchanged (not loaded into the page) and with the input loaded into the box to edit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.models import Execution
from tests.browser.helpers import api_get, api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# ~590 KB of JSON: over the server's default bound (500 KB), under its request-body limit.
BIG_INPUT = {"items": list(range(100_000))}
DEFINITION = {
    "schemaVersion": 1, "name": "Echo", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "echo", "type": "output", "name": "Echo", "position": {"x": 250, "y": 0},
         "config": {"value": "{{input.items}}"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "echo"}],
}


def _wait_finished(execution_id: int, timeout: float = 60) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = Execution.objects.get(pk=execution_id)
        if execution.status in ("succeeded", "failed", "cancelled", "timed_out"):
            return execution
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish")


def test_a_big_input_is_shown_cut_served_whole_and_re_run(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Echo", "definition": DEFINITION})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": BIG_INPUT})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "succeeded", timeout=60_000)

    # The header: both values cut, with their size, and no JSON of them in the page.
    marker = page.locator("[data-testid=run-input-large]")
    size_kb = round(len(json.dumps(BIG_INPUT)) / 1000)  # 689 KB as the database counts it
    assert marker.inner_text() == f"large value ({size_kb} KB) — open / download", marker.inner_text()
    assert "large value" in page.inner_text("[data-testid=run-output-large]")
    assert "99999" not in page.inner_text("[data-testid=run-io]")

    # The link serves the whole value; the download link saves it as a file.
    href = marker.locator("[data-testid=large-value-open]").get_attribute("href")
    assert href == f"/api/executions/{run['id']}/input"
    assert page.request.get(href).json() == BIG_INPUT
    output_href = page.locator("[data-testid=run-output-large] [data-testid=large-value-open]").get_attribute("href")
    assert page.request.get(output_href).json() == {"Echo": BIG_INPUT["items"]}
    saved = page.request.get(marker.locator("[data-testid=large-value-download]").get_attribute("href"))
    assert "attachment" in saved.headers["content-disposition"]
    # The answers the page read stayed small.
    assert len(json.dumps(api_get(page, f"/api/executions/{run['id']}"))) < 100_000
    assert len(json.dumps(api_get(page, f"/api/executions/{run['id']}/timeline"))) < 100_000

    # Re-run, editing: under a megabyte, the whole input is fetched into the box.
    page.click("[data-testid=rerun]")
    assert page.locator("[data-testid=rerun-large-input]").is_visible()
    box = page.locator("[data-testid=rerun-input]")
    box.wait_for(timeout=20_000)
    assert json.loads(box.input_value()) == BIG_INPUT
    # ... and unchanged: the stored input, without sending it back.
    page.check("[data-testid=rerun-same-input]")
    assert page.locator("[data-testid=rerun-input]").count() == 0
    page.click("[data-testid=rerun-submit]")
    page.wait_for_url(lambda url: f"/executions/{run['id']}/" not in url, timeout=20_000)
    rerun_id = int(page.url.rstrip("/").split("/")[-1])
    assert rerun_id != run["id"]
    rerun = _wait_finished(rerun_id)
    assert rerun.status == "succeeded", rerun.error
    assert rerun.input == BIG_INPUT
    wait_for_status(page, "succeeded", timeout=30_000)
    assert page.locator("[data-testid=run-input-large]").is_visible()

    # The editor's run bar shows the result cut, with its link.
    page.goto(f"/workflows/{workflow['id']}/")
    output = page.locator("[data-testid=execution-output] [data-testid=large-value]")
    output.wait_for(timeout=20_000)
    assert "large value" in output.inner_text()
    assert output.locator("[data-testid=large-value-open]").get_attribute("href") == (
        f"/api/executions/{rerun_id}/output")


def test_re_run_with_an_edited_input_from_a_cut_one(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Echo", "definition": DEFINITION})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": BIG_INPUT})
    _wait_finished(run["id"])
    page.goto("/executions/")
    row = page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")
    row.locator("[data-testid=row-rerun]").click()
    box = page.locator("[data-testid=rerun-input]")
    box.wait_for(timeout=20_000)
    box.fill(json.dumps({"items": [1, 2, 3]}))
    page.click("[data-testid=rerun-submit]")
    page.wait_for_url(lambda url: "/executions/" in url and url.rstrip("/").split("/")[-1].isdigit(), timeout=20_000)
    rerun = _wait_finished(int(page.url.rstrip("/").split("/")[-1]))
    assert rerun.input == {"items": [1, 2, 3]} and rerun.output == {"Echo": [1, 2, 3]}


def test_the_run_dialog_prefills_a_last_input_the_list_cut(logged_in_page: Any) -> None:
    """List rows cut inputs over 4 KB; the editor's Run dialog fetches such an input whole
    (up to 1 MB) to prefill it, so running it again starts with the same input."""
    page = logged_in_page
    medium = {"items": list(range(1500))}  # ~8.9 KB
    workflow = api_post(page, "/api/workflows", {"name": "Echo", "definition": DEFINITION})
    first = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": medium})
    _wait_finished(first["id"])
    page.goto(f"/workflows/{workflow['id']}/")
    page.locator("[data-testid=execution-output]").wait_for(timeout=20_000)
    page.click("[data-testid=run]")
    page.locator("[data-testid=run-input-loading]").wait_for(state="detached", timeout=20_000)
    assert page.locator("[data-testid=run-last-input-large]").count() == 0
    assert '"items": [' in page.inner_text("[data-testid=run-input] .cm-content")
    page.click("[data-testid=run-submit]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Execution.objects.filter(workflow_id=workflow["id"]).count() < 2:
        time.sleep(0.2)
    again = Execution.objects.filter(workflow_id=workflow["id"]).exclude(pk=first["id"]).get()
    assert again.input == medium
