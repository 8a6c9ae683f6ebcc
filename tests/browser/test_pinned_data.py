"""Pinned test data in the editor (n8n's "pin data"), in Chromium.

A person building a workflow pins the output of a slow node from a run's data, edits the
pinned JSON, and runs again from the editor: the node does not run, the node after it gets
the pin, the canvas, the run data and the run page's timeline say "pinned"; unpinned, the
node runs again. Also on a 360 px phone: the pinned box and its buttons fit the window.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.canvas import open_node
from tests.browser.helpers import api_get, api_post, api_put, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Build on a pin", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "fetch", "type": "transform", "name": "Fetch", "position": {"x": 250, "y": 0},
             "config": {"operation": "custom", "expression": "return {n: input.n + 1}"}},
            {"id": "calc", "type": "transform", "name": "Calc", "position": {"x": 500, "y": 0},
             "config": {"operation": "custom", "expression": "return {doubled: input.n * 2}"}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 750, "y": 0},
             "config": {"value": "{{calc}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "fetch"}, {"id": "e2", "source": "fetch", "target": "calc"},
                  {"id": "e3", "source": "calc", "target": "o"}],
    }


def run_from_editor(page: Any, *, use_pins: bool | None = None) -> dict[str, Any]:
    """▶ Run → Start run (the pins checkbox set when given); the new execution, finished."""
    before = {e["id"] for e in api_get(page, "/api/executions")}
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    if use_pins is not None:
        page.locator("[data-testid=run-use-pins]").set_checked(use_pins)
    page.click("[data-testid=run-submit]")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")
    new: list[Any] = []
    for _ in range(200):
        new = [e for e in api_get(page, "/api/executions") if e["id"] not in before]
        if new and new[0]["status"] in ("succeeded", "failed"):
            break
        page.wait_for_timeout(100)
    assert new, "no run started"
    return dict(api_get(page, f"/api/executions/{new[0]['id']}"))


def test_pin_a_nodes_output_edit_it_run_on_it_and_unpin(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Build on a pin", "definition": definition()})
    api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 4}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_for_status(page, "succeeded")

    # Fetch's run data: its output, and the button that pins it.
    open_node(page, "fetch")
    assert page.query_selector("[data-testid=pinned-fetch]") is None
    assert "Not pinned" in page.inner_text("[data-testid=pinned-none]")
    assert json.loads(page.inner_text("[data-testid=run-data-output]")) == {"n": 5}
    page.click("[data-testid=pin-output]")
    page.wait_for_selector("[data-testid=pinned-fetch]")  # the badge on the canvas
    assert page.get_attribute("[data-testid=pinned-fetch]", "aria-label") == "Pinned data"
    assert json.loads(page.input_value("[data-testid=pinned-text]")) == {"n": 5}
    assert api_get(page, f"/api/workflows/{workflow['id']}/pins")[0]["data"] == {"n": 5}

    # Edited: a typo is said under the box and cannot be saved; fixed, it is saved.
    box = page.locator("[data-testid=pinned-text]")
    box.fill('{"n": 20')
    problem = page.wait_for_selector("[data-testid=pinned-problem]")
    assert "not valid JSON" in problem.inner_text()
    assert box.get_attribute("aria-invalid") == "true"
    assert page.is_disabled("[data-testid=pinned-save]")
    box.fill('{"n": 20}')
    assert page.query_selector("[data-testid=pinned-problem]") is None
    page.click("[data-testid=pinned-save]")
    page.wait_for_function("() => document.querySelector('[data-testid=toast]')?.textContent.includes('Pinned data saved')")
    assert api_get(page, f"/api/workflows/{workflow['id']}/pins")[0]["data"] == {"n": 20}
    assert_accessible(page, "[data-testid=pinned-data]")

    # ▶ Run says how many nodes are pinned and uses them: Calc gets the pin, Fetch did not run.
    page.click("[data-testid=run]")
    assert "1 node pinned" in page.inner_text("[data-testid=run-dialog]")
    assert page.is_checked("[data-testid=run-use-pins]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")
    pinned = run_from_editor(page)
    assert pinned["status"] == "succeeded" and pinned["output"] == {"Result": {"doubled": 40}}, pinned["output"]
    runs = {r["nodeId"]: r for r in pinned["nodeRuns"]}
    assert runs["fetch"]["pinned"] is True and runs["calc"]["pinned"] is False
    wait_for_status(page, "succeeded")
    page.wait_for_selector(f"[data-testid=execution-id]:has-text('{pinned['id']}')")
    open_node(page, "calc")
    page.wait_for_function("() => document.querySelector('[data-testid=run-data-output]')?.textContent.includes('40')")
    assert json.loads(page.inner_text("[data-testid=run-data-output]")) == {"doubled": 40}
    open_node(page, "fetch")
    page.wait_for_selector("[data-testid=run-data-pinned]")
    assert "did not run" in page.inner_text("[data-testid=run-data-pinned]")

    # The run page's timeline: Fetch's bar says pinned, Calc's does not.
    page.goto(f"/executions/{pinned['id']}/")
    fetch_bar = page.wait_for_selector("[data-testid=timeline-bar][data-node-id=fetch]")
    assert "pinned" in (fetch_bar.get_attribute("aria-label") or "")
    calc_bar = page.wait_for_selector("[data-testid=timeline-bar][data-node-id=calc]")
    assert "pinned" not in (calc_bar.get_attribute("aria-label") or "")
    # By keyboard too (a click: tests/browser/test_pinned_timeline.py).
    fetch_bar.focus()
    page.keyboard.press("Enter")
    assert "did not run" in page.inner_text("[data-testid=panel-pinned]")

    # Run without the pins (the dialog's checkbox): Fetch runs on the real input again.
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=pinned-fetch]")
    unpinned_run = run_from_editor(page, use_pins=False)
    assert unpinned_run["output"] == {"Result": {"doubled": 10}}, unpinned_run["output"]

    # Unpinned: the badge goes, the pin is gone on the server, and the next run runs Fetch.
    wait_for_status(page, "succeeded")
    open_node(page, "fetch")
    page.click("[data-testid=unpin]")
    page.wait_for_selector("[data-testid=pinned-fetch]", state="detached")
    page.wait_for_selector("[data-testid=pinned-none]")
    assert api_get(page, f"/api/workflows/{workflow['id']}/pins") == []
    page.click("[data-testid=run]")
    assert page.query_selector("[data-testid=run-use-pins]") is None  # nothing pinned: nothing to say
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=run-dialog]", state="detached")
    again = run_from_editor(page)
    assert again["output"] == {"Result": {"doubled": 10}}
    assert not any(r["pinned"] for r in again["nodeRuns"])
    assert page_errors.unexpected() == []


def test_the_pinned_box_fits_a_phone(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 360, "height": 760})
    workflow = api_post(page, "/api/workflows", {"name": "Build on a pin", "definition": definition()})
    api_put(page, f"/api/workflows/{workflow['id']}/pins/fetch", {"data": {"n": 1, "text": "x" * 300}})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=pinned-fetch]")
    page.locator("[data-testid=rf__node-fetch]").click()
    page.wait_for_selector("[data-testid=pinned-data]")
    for selector in ("[data-testid=pinned-text]", "[data-testid=pinned-save]", "[data-testid=unpin]"):
        page.locator(selector).scroll_into_view_if_needed()
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page_errors.unexpected() == []


def test_a_pin_follows_its_node_when_the_node_id_is_renamed(logged_in_page: Any, page_errors: Any) -> None:
    """Renaming a pinned node's id keeps it pinned: the badge stays on the canvas, and the
    save moves the pin to the new id on the server (the old id's pin goes), so the next run
    from the editor still skips it. Undoing a rename before saving leaves the pin where it was."""
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Build on a pin", "definition": definition()})
    api_put(page, f"/api/workflows/{workflow['id']}/pins/fetch", {"data": {"n": 20}})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=pinned-fetch]")

    # Renamed and undone before a save: nothing moves.
    open_node(page, "fetch")
    page.fill("[data-testid=node-id-input]", "fetch_orders")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=pinned-fetch_orders]")  # the badge followed at once
    page.keyboard.press("Escape")
    page.locator("[data-testid=undo]").click()
    page.wait_for_selector(".react-flow__node[data-id='fetch']")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=save-state]:has-text('Saved')")
    page.wait_for_selector("[data-testid=pinned-fetch]")
    assert [p["nodeId"] for p in api_get(page, f"/api/workflows/{workflow['id']}/pins")] == ["fetch"]

    # Renamed and saved: the pin is the new id's, on the canvas and on the server.
    open_node(page, "fetch")
    page.fill("[data-testid=node-id-input]", "fetch_orders")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=pinned-fetch_orders]")
    page.click("[data-testid=save]")
    page.wait_for_function(
        """async (id) => { const r = await fetch(`/api/workflows/${id}/pins`);
                           return r.ok && (await r.json()).some((p) => p.nodeId === "fetch_orders"); }""",
        arg=workflow["id"], polling=100, timeout=10_000)
    pins = api_get(page, f"/api/workflows/{workflow['id']}/pins")
    assert [(p["nodeId"], p["data"]) for p in pins] == [("fetch_orders", {"n": 20})], pins
    page.wait_for_selector("[data-testid=pinned-fetch_orders]")

    done = run_from_editor(page)
    assert done["status"] == "succeeded" and done["output"] == {"Result": {"doubled": 40}}, done["output"]
    assert {r["nodeId"]: r["pinned"] for r in done["nodeRuns"]}["fetch_orders"] is True
    assert page_errors.unexpected() == []
