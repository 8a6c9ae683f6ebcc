"""Config forms and labels a person can read (issue 16), in Chromium: fields that depend on
the chosen operation, no empty "Default:" hints, a number-or-template box without a type
menu, key-value headers, branch settings on the edge label, plain wording for an
unconnected node, and demos loaded from the list that call this very server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import open_node
from tests.browser.helpers import api_get, api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORMS = {
    "schemaVersion": 1, "name": "Forms", "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "shape", "type": "transform", "name": "Shape", "position": {"x": 300, "y": -120},
         "config": {"operation": "passthrough"}},
        {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 300, "y": 120}, "config": {"duration": 10}},
        {"id": "call", "type": "http", "name": "Call", "position": {"x": 600, "y": 0},
         "config": {"method": "GET", "url": "http://127.0.0.1:1/x"}},
        {"id": "alone", "type": "log", "name": "Alone", "position": {"x": 600, "y": 260}, "config": {"message": "hi"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "shape", "branch": {"name": "fast", "timeout": 5000, "retry": {"maxAttempts": 3}}},
        {"id": "e2", "source": "start", "target": "wait"},
        {"id": "e3", "source": "shape", "target": "call"},
    ],
}


def test_forms_follow_the_operation_and_read_plainly(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Forms", "definition": FORMS})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='shape']")

    # An unconnected node's warning says what happens, in plain words.
    page.wait_for_selector("[data-testid=issues-summary]")
    page.click("[data-testid=issues-summary]")
    warning = page.inner_text("[data-testid=issues]")
    assert "never runs" in warning and "runs only as a signal handler" not in warning

    # The branch's own settings are on its label.
    assert page.inner_text("[data-testid=edge-settings-e1]").strip() == "timeout 5 s · retry ×3"

    # Transform: passthrough has neither path nor expression; pick shows path; custom the expression.
    open_node(page, "shape")
    assert page.locator("[data-testid=field-path]").count() == 0
    assert page.locator("[data-testid=field-expression]").count() == 0
    page.select_option("[data-testid=field-operation]", label="pick")
    page.wait_for_selector("[data-testid=field-path]")
    assert page.locator("[data-testid=field-expression]").count() == 0
    page.select_option("[data-testid=field-operation]", label="custom")
    page.wait_for_selector("[data-testid=field-expression]")
    assert page.locator("[data-testid=field-path]").count() == 0
    # No help line ends in an empty "Default:".
    hints = page.locator("[data-testid=node-panel] .fm-default").all_inner_texts()
    assert all(h.strip() != "Default:" for h in hints), hints

    # Delay: one box for a number or a template, no type menu.
    open_node(page, "wait")
    assert page.locator("[data-testid=field-duration-type]").count() == 0
    page.fill("[data-testid=field-duration]", "{{input.ms}}")
    page.click(".react-flow__node[data-id='call'] .fm-node-name")
    open_node(page, "wait")
    page.fill("[data-testid=field-duration]", "250")

    # HTTP: headers as name/value rows; the body only for methods that send one.
    open_node(page, "call")
    assert page.locator("[data-testid=field-body]").count() == 0
    page.click("[data-testid=field-headers-add]")
    page.fill("[data-testid=field-headers-key-0]", "X-Team")
    page.fill("[data-testid=field-headers-value-0]", "{{variables.team}}")
    page.click("[data-testid=field-query-add]")
    page.fill("[data-testid=field-query-key-0]", "limit")
    page.fill("[data-testid=field-query-value-0]", "5")

    page.keyboard.press("Control+s")
    page.wait_for_selector("[data-testid=save-state]:has-text('v2')")
    nodes = {n["id"]: n for n in api_get(page, f"/api/workflows/{workflow['id']}")["definition"]["nodes"]}
    assert nodes["shape"]["config"]["operation"] == "custom"
    assert nodes["wait"]["config"]["duration"] == 250
    assert nodes["call"]["config"]["headers"] == {"X-Team": "{{variables.team}}"}
    assert nodes["call"]["config"]["query"] == {"limit": 5}
    assert page_errors.unexpected() == []


def test_demos_loaded_from_the_list_call_this_server(logged_in_page: Any, live_server_url: str) -> None:
    page = logged_in_page
    page.goto("/workflows/")
    page.click("[data-testid=load-demos]")
    page.wait_for_function("() => document.body.textContent.includes('Loaded 5 demo workflows')")
    demos = api_get(page, "/api/workflows")
    bases = {w["definition"]["settings"].get("variables", {}).get("apiBase") for w in demos} - {None}
    assert bases == {f"{live_server_url}/demo-api"}, bases
    # The fan-out demo runs against this server (not a hard-coded port) and succeeds.
    fan_out = next(w for w in demos if w["name"] == "Fan-out / fan-in")
    run = api_post(page, f"/api/workflows/{fan_out['id']}/run", {"input": {}})
    page.goto(f"/workflows/{fan_out['id']}/")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
                           timeout=30_000)
    assert page.get_attribute("[data-testid=run-bar]", "data-tone") == "ok"
    assert api_get(page, f"/api/executions/{run['id']}")["status"] == "succeeded"
