"""Issue 15 in a real Chromium: the editor shows the server's strict validation (numbers out
of their range, a misspelt signal handler action with the nearest known one, a handler
naming no node), and the run page sends the workflow's custom signals with JSON data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ISSUES = "[data-testid=issues]"


def node(node_id: str, node_type: str, name: str, x: float, config: dict[str, Any],
         parent: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node_id, "type": node_type, "name": name, "position": {"x": x, "y": 0},
                           "config": config}
    if parent:
        out["parentId"] = parent
        out["position"] = {"x": 40, "y": 60}
    return out


LOOP = {
    "schemaVersion": 1, "name": "Enrich", "settings": {},
    "nodes": [node("start", "start", "Start", 0, {}),
              node("loop", "loop", "Parallel Loop", 250, {"arrayPath": "{{input.items}}", "maxConcurrency": 10}),
              node("work", "delay", "Work", 0, {"duration": 10}, parent="loop")],
    "edges": [{"id": "e1", "source": "start", "target": "loop"}],
}

PRIORITY = {
    "schemaVersion": 1, "name": "Long job",
    "settings": {"signalHandlers": {
        "priority_change": {"action": "custom", "handler": "update_priority_node"}}},
    "nodes": [node("start", "start", "Start", 0, {}),
              node("wait", "delay", "Long wait", 250, {"duration": 60_000}),
              node("update_priority_node", "log", "Update Priority", 500,
                   {"message": "new priority {{input.priority}}"})],
    "edges": [{"id": "e1", "source": "start", "target": "wait"}],
}


def wait_for_issue(page: Any, text: str) -> str:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)",
                           arg=[ISSUES, text], timeout=20_000)
    return str(page.locator(ISSUES).inner_text())


def test_the_editor_shows_the_servers_range_and_unknown_value_errors(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Enrich", "definition": LOOP})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='loop']")
    page.locator(ISSUES).get_by_text("No problems found").wait_for()

    # A loop's maxConcurrency of -1 (it used to queue forever) is refused with its range.
    page.click(".react-flow__node[data-id='loop'] >> text=Parallel Loop")
    field = page.locator("[data-testid='field-maxConcurrency']")
    field.fill("-1")
    page.locator("[data-testid=issues-summary]").click()
    text = wait_for_issue(page, "maxConcurrency: -1 is out of range: allowed 1 to 10000")
    assert "Parallel Loop:" in text  # the node, named as on its box (the list named it by id)
    panel = page.locator("[data-testid=node-panel-errors]")
    panel.get_by_text("maxConcurrency: -1 is out of range").wait_for()
    field.fill("5")
    page.locator(ISSUES).get_by_text("No problems found").wait_for(timeout=20_000)

    # A misspelt signal handler action and a handler naming no node, in the settings panel.
    page.click("[data-testid=open-settings]")
    handlers = page.locator("[data-testid='field-settings.signalHandlers']")
    handlers.fill('{"priority_change": {"action": "custum", "handler": "update_priority_node"}}')
    handlers.blur()
    page.locator("[data-testid=issues-summary]").click()
    text = wait_for_issue(page, "did you mean 'custom'?")
    assert "settings.signalHandlers.priority_change.action: 'custum'" in text
    handlers.fill('{"priority_change": {"action": "custom", "handler": "update_priority_node"}}')
    handlers.blur()
    text = wait_for_issue(page, "settings.signalHandlers.priority_change.handler: 'update_priority_node' is not a node")

    # Saving the invalid definition is refused by the server with the same message.
    response = page.request.put(f"/api/workflows/{workflow['id']}", data={"name": "Enrich",
        "definition": {**LOOP, "settings": {"signalHandlers": {"x": {"action": "custom", "handler": "nope"}}}}},
        headers={"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")})
    assert response.status == 400
    assert "'nope' is not a node" in response.text()


def test_the_run_page_sends_a_custom_signal_with_json_data(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Long job", "definition": PRIORITY})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "running")

    group = page.get_by_role("group", name="Custom signals")
    button = group.get_by_role("button", name="priority_change…")
    assert button.is_enabled()
    button.click()
    page.locator("[data-testid=custom-signal-data]").fill('{"priority": 5}')
    page.locator("[data-testid=custom-signal-send]").click()
    page.locator("[data-testid=custom-signal-message]").get_by_text("priority_change sent").wait_for()

    # The handler node ran with the signal's data as its input while the run goes on.
    page.wait_for_function(
        """async (id) => {
             const r = await fetch(`/api/executions/${id}`);
             const body = await r.json();
             return (body.nodeRuns || []).some(n => n.nodeId === 'update_priority_node' && n.status === 'succeeded');
           }""", arg=run["id"], polling=200, timeout=20_000)
    detail = api_get(page, f"/api/executions/{run['id']}")
    handler = next(n for n in detail["nodeRuns"] if n["nodeId"] == "update_priority_node")
    assert handler["input"] == {"priority": 5}
    assert detail["status"] == "running"
    # A bad JSON is refused on the page, before anything is sent.
    page.get_by_role("button", name="priority_change…").click()
    page.locator("[data-testid=custom-signal-data]").fill("{priority: 5")
    page.locator("[data-testid=custom-signal-send]").click()
    page.locator("[data-testid=custom-signal-message]").get_by_text("not valid JSON").wait_for()
    api_post(page, f"/api/executions/{run['id']}/signal", {"type": "cancel", "reason": "done"})
    wait_for_status(page, "cancelled")
    assert page.get_by_role("group", name="Custom signals").count() == 0
