""""Re-run from here" in the editor (n8n's "execute from this node"), in Chromium.

A person whose run failed at one node fixes that node on the canvas and re-runs from it:
the fix is saved, the node and what follows it run again in the same execution with the
inputs they had, and the nodes before it are not run again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.canvas import open_node, set_code_field
from tests.browser.helpers import api_get, api_post, api_put, api_wait_finished, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def definition(calc: str) -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Fix and go on", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "fetch", "type": "transform", "name": "Fetch", "position": {"x": 250, "y": 0},
             "config": {"operation": "custom", "expression": "return {n: input.n + 1}"}},
            {"id": "calc", "type": "transform", "name": "Calc", "position": {"x": 500, "y": 0},
             "config": {"operation": "custom", "expression": calc}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 750, "y": 0},
             "config": {"value": "{{calc}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "fetch"}, {"id": "e2", "source": "fetch", "target": "calc"},
                  {"id": "e3", "source": "calc", "target": "o"}],
    }


def runs_of(page: Any, execution_id: Any, node_id: str) -> list[dict[str, Any]]:
    body = api_get(page, f"/api/executions/{execution_id}/node-runs?nodeId={node_id}")
    return body["results"] if isinstance(body, dict) else body


def test_a_failed_node_fixed_on_the_canvas_re_runs_from_there_keeping_what_ran_before(
        logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Fix and go on",
                                                 "definition": definition('throw new Error("not yet")')})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 4}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_for_status(page, "failed")

    # A node of a run that ended offers it; the run bar's own re-run starts from the start.
    open_node(page, "calc")
    assert "not yet" in page.inner_text("[data-testid=run-data-error]")
    button = page.wait_for_selector("[data-testid=rerun-from-here]")
    assert button.is_visible() and button.inner_text() == "Re-run from here"

    # The fix, not saved yet: re-running saves it first, then runs it on the input it had.
    set_code_field(page, "field-expression", "return {doubled: input.n * 2}")
    assert "Unsaved" in page.inner_text("[data-testid=save-state]")
    page.click("[data-testid=rerun-from-here]")
    wait_for_status(page, "succeeded")
    assert "Saved" in page.inner_text("[data-testid=save-state]")
    page.wait_for_function("() => document.querySelector('[data-testid=toast]')?.textContent.includes('Re-running Calc')")

    done = api_get(page, f"/api/executions/{run['id']}")
    assert done["status"] == "succeeded"
    assert done["output"] == {"Result": {"doubled": 10}}, done["output"]
    assert done["version"] == 2  # the saved fix is what ran
    # Fetch ran once (its output was kept), Calc twice (the failure, then the fix).
    assert [r["status"] for r in runs_of(page, run["id"], "fetch")] == ["succeeded"]
    assert [r["status"] for r in runs_of(page, run["id"], "calc")] == ["failed", "succeeded"]
    # Still one execution: the re-run is a new attempt of the same one.
    assert len(api_get(page, f"/api/executions?workflow={workflow['id']}")) == 1

    # The panel shows the fixed attempt's output.
    open_node(page, "o")
    open_node(page, "calc")
    page.wait_for_function("() => document.querySelector('[data-testid=run-data-output]')?.textContent.includes('doubled')")
    assert json.loads(page.inner_text("[data-testid=run-data-output]")) == {"doubled": 10}
    assert page_errors.unexpected() == []


def test_no_button_while_the_run_goes_on_and_a_refusal_says_why(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    slow = definition("return {ok: true}")
    slow["nodes"][1] = {"id": "fetch", "type": "delay", "name": "Fetch", "position": {"x": 250, "y": 0},
                        "config": {"duration": 2500}}
    workflow = api_post(page, "/api/workflows", {"name": "Fix and go on", "definition": slow})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 1}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_for_status(page, "running")
    # While the run goes on, what a node gets is still being decided: no re-run from it.
    open_node(page, "fetch")
    page.wait_for_selector("[data-testid=run-data]")
    assert page.query_selector("[data-testid=rerun-from-here]") is None
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=rerun-from-here]")

    # Meanwhile, in another tab, Calc was deleted and saved: the server says so, and the
    # run stays as it was.
    gone = definition("return {ok: true}")
    gone["nodes"] = [n for n in gone["nodes"] if n["id"] != "calc"]
    gone["edges"] = [{"id": "e1", "source": "start", "target": "fetch"}, {"id": "e2", "source": "fetch", "target": "o"}]
    gone["nodes"][2]["config"] = {"value": "{{fetch}}"}
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    saved = page.request.put(f"/api/workflows/{workflow['id']}", data=json.dumps({"name": "Fix and go on", "definition": gone}),
                             headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert saved.ok, saved.text()
    open_node(page, "calc")
    page.click("[data-testid=rerun-from-here]")
    page.wait_for_function("() => document.querySelector('[data-testid=toast]')?.textContent.includes('Not re-run')")
    toast = page.inner_text("[data-testid=toast]")
    assert "no such node" in toast and "calc" in toast, toast
    assert api_get(page, f"/api/executions/{run['id']}")["status"] == "succeeded"
    assert [r["status"] for r in runs_of(page, run["id"], "calc")] == ["succeeded"]
    assert page_errors.unexpected(("400",)) == []


def test_re_run_from_here_of_a_test_run_uses_the_pins_as_they_are_now(logged_in_page: Any, page_errors: Any) -> None:
    """Pin Fetch, test-run, unpin Fetch, re-run from Fetch: Fetch runs now (n8n: a manual
    run uses the pins as they are), instead of answering with the pin it no longer has."""
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Pinned fetch",
                                                 "definition": definition("return {doubled: input.n * 2}")})
    api_put(page, f"/api/workflows/{workflow['id']}/pins/fetch", {"data": {"n": 100}})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 4}, "usePinnedData": True})
    assert api_wait_finished(page, run["id"])["output"] == {"Result": {"doubled": 200}}
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    assert page.request.delete(f"/api/workflows/{workflow['id']}/pins/fetch", headers={"X-CSRFToken": token}).ok

    page.goto(f"/workflows/{workflow['id']}/")
    wait_for_status(page, "succeeded")
    open_node(page, "fetch")
    page.click("[data-testid=rerun-from-here]")
    page.wait_for_function("() => document.querySelector('[data-testid=toast]')?.textContent.includes('Re-running Fetch')")
    done = api_wait_finished(page, run["id"])
    assert done["output"] == {"Result": {"doubled": 10}}, done["output"]  # 4 + 1, doubled: Fetch ran
    assert [r["pinned"] for r in runs_of(page, run["id"], "fetch")] == [True, False]
    assert page_errors.unexpected() == []
