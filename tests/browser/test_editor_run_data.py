"""Run data on the canvas, re-run and approvals from the editor (issue 16), in Chromium.

Journeys a person does end to end: build a fan-out and merge, run it and read each node's
input and output on the canvas; re-run an execution with an edited input; approve a
waiting approval from the canvas with a comment; fix the JavaScript of a failed run in a
new version and replay its dead letter on that version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.canvas import connect, create_workflow, drop_from_palette, open_node, set_code_field
from tests.browser.helpers import APPROVAL, api_get, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATUS = "[data-testid=execution-status]"


def wait_text(page: Any, selector: str, text: str, timeout: float = 20_000) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text],
                           timeout=timeout)


def test_build_a_fan_out_and_merge_run_it_and_read_run_data_on_the_nodes(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow_id = create_workflow(page, "Fan out")
    a = drop_from_palette(page, "set", 480, 200)
    b = drop_from_palette(page, "set", 480, 460)
    merge = drop_from_palette(page, "merge", 800, 330)
    # A new node is scrolled into view when it is added, which can push an earlier one off
    # screen: fit the graph before dragging between handles, as a person would look first.
    page.click("[data-testid=canvas] .react-flow__controls-fitview")
    page.wait_for_timeout(300)
    for node in (a, b):
        connect(page, "start", node)
        connect(page, node, merge)
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 4")

    page.click("[data-testid=run]")
    set_code_field(page, "run-input", '{"n": 7}')
    page.click("[data-testid=run-submit]")
    wait_text(page, STATUS, "succeeded")

    # Every node carries its status in this run, and the run bar reads as a success.
    for node in ("start", a, b, merge):
        assert page.get_attribute(f"[data-testid=status-{node}]", "data-status") == "succeeded"
    assert page.get_attribute("[data-testid=run-bar]", "data-tone") == "ok"

    # Clicking the merge shows what came in (both branches) and what it produced.
    open_node(page, merge)
    panel = page.wait_for_selector("[data-testid=run-data]")
    assert "succeeded" in panel.inner_text()
    merged_in = json.loads(page.inner_text("[data-testid=run-data-input]"))
    assert set(merged_in) == {"branch_a", "branch_b"}, merged_in
    assert page.inner_text("[data-testid=run-data-output]").strip() not in ("", "—")

    # The start node's input is the run's input.
    open_node(page, "start")
    assert json.loads(page.inner_text("[data-testid=run-data-input]")) == {"n": 7}

    # A reload shows the latest run's data again (the latest run is the default).
    page.reload()
    wait_text(page, STATUS, "succeeded")
    assert page.get_attribute(f"[data-testid=status-{merge}]", "data-status") == "succeeded"
    runs = api_get(page, f"/api/executions?workflow={workflow_id}")
    assert len(runs) == 1
    assert page_errors.unexpected() == []


def js_definition(expression: str, *, dlq: bool = False) -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "Score", "settings": {"queue": {"deadLetterQueue": dlq}, "variables": {"factor": 3}},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "calc", "type": "transform", "name": "Calc", "position": {"x": 300, "y": 0},
             "config": {"operation": "custom", "expression": expression}},
            {"id": "o", "type": "output", "name": "Result", "position": {"x": 600, "y": 0},
             "config": {"value": "{{calc}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "calc"}, {"id": "e2", "source": "calc", "target": "o"}],
    }


def test_javascript_is_checked_completed_expanded_and_tested_before_saving(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Score", "definition": js_definition("input.n * 2")})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 5}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_text(page, STATUS, "succeeded")
    open_node(page, "calc")
    assert json.loads(page.inner_text("[data-testid=run-data-input]")) == {"n": 5}

    # A broken return is marked at once: under the field and in the problems bar, not saved yet.
    set_code_field(page, "field-expression", "const x = input.n;\nreturn {a: x;}")
    problem = page.wait_for_selector("[data-testid=field-expression-problem]")
    assert "SyntaxError" in problem.inner_text() and "line 2" in problem.inner_text()
    page.wait_for_selector(".cm-lintRange-error, .cm-lint-marker-error", state="attached")
    page.wait_for_function("() => document.querySelector('[data-testid=issues]').textContent.includes('SyntaxError')")
    assert "Unsaved" in page.inner_text("[data-testid=save-state]")
    assert page.get_attribute("[data-testid=node-error-calc]", "aria-label").startswith("1 error")

    # Fixed: the problem goes away.
    set_code_field(page, "field-expression", "return {a: input.n * variables.")
    # Completion of variables.<name> and of input.<key> from the last run.
    # (The list follows the typing a moment later: a list from "input" may show first. And
    # CodeMirror ignores Enter for 75 ms after a list opens — its interactionDelay.)
    page.wait_for_function("() => document.querySelector('.cm-tooltip-autocomplete')?.textContent.includes('factor')")
    page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    page.keyboard.type("};")
    page.wait_for_selector("[data-testid=field-expression-problem]", state="detached")
    text = page.inner_text("[data-testid=field-expression] .cm-content")
    assert "variables.factor" in text, text

    # Test it on the last run's input (evaluated in the server's sandbox).
    page.click("[data-testid=field-expression-test]")
    result = page.wait_for_selector("[data-testid=field-expression-test-result]")
    page.wait_for_function("() => document.querySelector('[data-testid=field-expression-test-result]').textContent.includes('15')")
    assert json.loads(result.inner_text().strip()) == {"a": 15}

    # The full-size editor edits the same code; Escape closes it.
    page.click("[data-testid=field-expression-expand]")
    big = page.wait_for_selector("[data-testid=field-expression-expanded]")
    box = big.bounding_box()
    assert box and box["width"] > 900
    assert "variables.factor" in page.inner_text("[data-testid=field-expression-expanded] .cm-content")
    page.keyboard.press("End")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=field-expression-expanded]", state="detached")
    assert page.is_visible("[data-testid=node-panel]")
    assert run["id"]
    assert page_errors.unexpected() == []


def test_approve_with_a_comment_from_the_canvas(logged_in_page: Any, page_errors: Any) -> None:

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"amount": 640}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_text(page, STATUS, "waiting for approval")
    # The approval waits: its badge says so (not "running"), and the bar reads as waiting.
    assert page.get_attribute("[data-testid=status-sign_off]", "data-status") == "waiting"
    assert page.inner_text("[data-testid=status-sign_off]").lower() == "waiting"
    assert page.get_attribute("[data-testid=run-bar]", "data-tone") == "wait"

    page.click("[data-testid=canvas-approve]")
    dialog = page.wait_for_selector("[data-testid=approval-dialog]")
    assert "Manager sign-off" in dialog.inner_text() and "Refund over 500 EUR" in dialog.inner_text()
    page.fill("[data-testid=approval-comment]", "fine, within budget")
    page.fill("[data-testid=approval-data]", '{"limit": 700}')
    page.click("[data-testid=approval-dialog-approve]")
    page.wait_for_selector("[data-testid=approval-dialog]", state="detached")
    wait_text(page, STATUS, "succeeded")
    done = api_get(page, f"/api/executions/{run['id']}")
    decision = next(r for r in done["nodeRuns"] if r["nodeId"] == "sign_off")["output"]
    assert decision == {"limit": 700, "approved": True, "comment": "fine, within budget"}
    open_node(page, "result")
    assert json.loads(page.inner_text("[data-testid=run-data-output]"))["comment"] == "fine, within budget"
    assert page_errors.unexpected() == []


def test_rerun_with_edited_input_from_the_editor(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Score", "definition": js_definition("input.n * 2")})
    first = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 5}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_text(page, STATUS, "succeeded")
    assert "10" in page.inner_text("[data-testid=execution-output]")

    page.click("[data-testid=rerun]")
    page.wait_for_selector("[data-testid=rerun-dialog]")
    assert json.loads(page.inner_text("[data-testid=rerun-input] .cm-content")) == {"n": 5}
    set_code_field(page, "rerun-input", '{"n": 21}')
    page.click("[data-testid=rerun-submit]")
    page.wait_for_selector("[data-testid=rerun-dialog]", state="detached")
    page.wait_for_function("id => document.querySelector('[data-testid=execution-id]').textContent !== String(id)",
                           arg=first["id"])
    wait_text(page, STATUS, "succeeded")
    assert "42" in page.inner_text("[data-testid=execution-output]")
    # The picker lists both runs, and choosing the first shows its data again.
    assert page.locator("[data-testid=run-picker] option").count() == 2
    page.select_option("[data-testid=run-picker]", str(first["id"]))
    page.wait_for_function("() => document.querySelector('[data-testid=execution-output]')?.textContent.includes('10')")
    # The Run dialog remembers the last run's input.
    page.click("[data-testid=run]")
    assert json.loads(page.inner_text("[data-testid=run-input] .cm-content")) == {"n": 21}
    assert page_errors.unexpected() == []


def test_fix_the_javascript_in_a_new_version_and_replay_the_dead_letter(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Score", "definition": js_definition("input.a.b * 2", dlq=True)})
    failed = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"n": 4}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_text(page, STATUS, "failed")
    # A failure looks like one: red, with the reason.
    assert page.get_attribute("[data-testid=run-bar]", "data-tone") == "bad"
    assert "TypeError" in page.inner_text("[data-testid=execution-error]")
    color = page.eval_on_selector("[data-testid=run-bar]", "el => getComputedStyle(el).backgroundColor")
    r, g, b = (int(v) for v in color[color.index("(") + 1:color.index(")")].split(",")[:3])
    assert r > g and r > b, color
    open_node(page, "calc")
    assert "TypeError" in page.inner_text("[data-testid=run-data-error]")

    # Fix the code (v2) and save.
    set_code_field(page, "field-expression", "input.n * 2")
    page.keyboard.press("Control+s")
    page.wait_for_selector("[data-testid=save-state]:has-text('v2')")

    page.click("[data-testid=rerun]")
    page.wait_for_selector("[data-testid=rerun-dead-letter]")
    assert page.is_checked("[data-testid=rerun-latest]")  # the failed run was v1, the fix is v2
    page.click("[data-testid=rerun-submit]")
    wait_text(page, STATUS, "succeeded")
    letters = api_get(page, f"/api/dead-letters?workflow={workflow['id']}")
    assert len(letters) == 1 and letters[0]["state"] == "replayed"
    replayed = api_get(page, f"/api/executions/{letters[0]['replayedExecution']}")
    assert (replayed["version"], replayed["output"], replayed["input"]) == (2, {"Result": 8}, {"n": 4})
    assert failed["id"] != replayed["id"]
    assert page_errors.unexpected(allowed=("status of 400",)) == []


def test_a_parallel_loop_shows_each_item_on_the_canvas(logged_in_page: Any, page_errors: Any) -> None:
    from tests.browser.helpers import loop_definition

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": loop_definition(3, 50)})
    api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": ["a", "b", "c", "d"]}})
    page.goto(f"/workflows/{workflow['id']}/")
    wait_text(page, STATUS, "succeeded")
    assert page.get_attribute("[data-testid=status-work]", "data-status") == "succeeded"
    # The body node ran once per item: each item is listed, and picking one shows its input.
    open_node(page, "work")
    items = page.locator("[data-testid=run-data-attempts] button").all_inner_texts()
    assert sorted(t.split(" · ")[0] for t in items) == ["item 0", "item 1", "item 2", "item 3"], items
    page.click("[data-testid=run-data-attempts] button:has-text('item 2')")
    assert "Item 2" in page.inner_text("[data-testid=run-data-current]")
    assert page_errors.unexpected() == []
