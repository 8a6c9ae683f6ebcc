"""The seed's "Parallel Loop" example built in the editor by drag and drop alone (issue 3).

`[Get User List] → [Parallel Loop] → [Enrich User Data] → [Collect Results]`, with the loop
configured as in the seed (`forEach` over `{{users}}`, parallel, `maxConcurrency` 10,
`itemVariable` user, `outputVariable` results, plus `batchSize` and `rateLimit`). Everything
is done with the mouse and keyboard: palette drags, handle drags, the generated config
forms (the only code typed is the JavaScript a user writes in a Transform node). Then save,
reload, run from the Run dialog, and read what the execution page and the API report.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from tests.browser.canvas import (
    connect,
    create_workflow,
    drop_from_palette,
    node_box,
    node_ids,
    save,
    set_code_field,
)
from tests.browser.helpers import api_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NODE_WIDTH = 200  # editor/frontend/src/canvas/geometry.ts, in canvas units
USERS = 12
BATCH_SIZE = 6
# What a user types into the Transform nodes' expression editors (JavaScript, SPEC §5).
GET_USER_LIST_JS = 'return Array.from({ length: 12 }, (_, i) => ({ id: i + 1, name: "User " + (i + 1) }));'
ENRICH_USER_JS = (
    'return { ...user, email: user.name.toLowerCase().replace(" ", ".") + "@example.com", '
    "position: parallel.index, batch: parallel.batchId };"
)
RUN_TIMEOUT_MS = 60_000


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def make_room(page: Any) -> dict[str, float]:
    """Zoom out twice and pan the Start node to the left edge, as a person would before
    laying out five nodes and a loop on a canvas narrowed by the config panel."""
    canvas = page.locator("[data-testid=canvas]").bounding_box()
    assert canvas
    for _ in range(2):
        page.click("[data-testid=canvas] .react-flow__controls-zoomout")
    page.wait_for_function(
        "w => document.querySelector(\".react-flow__node[data-id='start']\").getBoundingClientRect().width < w",
        arg=NODE_WIDTH * 0.75,
    )
    start = node_box(page, "start")
    # Grab empty canvas below the Start node and drag it so the Start node sits near the top left.
    grab_x, grab_y = start["x"] + start["width"] / 2, start["y"] + 200
    target_x, target_y = canvas["x"] + 40 + start["width"] / 2, canvas["y"] + 140 + 200
    page.mouse.move(grab_x, grab_y)
    page.mouse.down()
    page.mouse.move((grab_x + target_x) / 2, (grab_y + target_y) / 2, steps=5)
    page.mouse.move(target_x, target_y, steps=5)
    page.mouse.up()
    moved = node_box(page, "start")
    assert moved["x"] < canvas["x"] + 120, (moved, canvas)
    return canvas


def open_panel(page: Any, node_id: str, grip: str = "") -> None:
    """Select a node by clicking it (a loop by its header) and wait for its config panel."""
    page.click(f".react-flow__node[data-id='{node_id}'] {grip}".strip())
    page.wait_for_selector(f"[data-testid=node-panel]:has([data-testid=node-panel-id]:text-is('id: {node_id}'))")


def set_expression(page: Any, text: str) -> None:
    page.select_option("[data-testid='field-operation']", label="custom")
    set_code_field(page, "field-expression", text)


def rename(page: Any, name: str) -> None:
    page.fill("[data-testid=node-name-input]", name)


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        outer["x"] < inner["x"]
        and inner["x"] + inner["width"] < outer["x"] + outer["width"]
        and outer["y"] < inner["y"]
        and inner["y"] + inner["height"] < outer["y"] + outer["height"]
    )


def test_parallel_loop_by_drag_and_drop_save_reload_and_run(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow_id = create_workflow(page, "Parallel Loop")
    canvas = make_room(page)
    start_box = node_box(page, "start")
    zoom = start_box["width"] / NODE_WIDTH
    # Canvas-relative coordinates, laid out left to right from the Start node a new workflow has.
    row_y = start_box["y"] - canvas["y"] + start_box["height"] / 2
    start_x = start_box["x"] - canvas["x"] + start_box["width"] / 2

    # [Get User List]: a Transform whose JavaScript returns the users; its id becomes `users`
    # so the loop can read it as `{{users}}`, exactly as in the seed.
    fetch = drop_from_palette(page, "transform", start_x + 270 * zoom, row_y)
    open_panel(page, fetch)
    rename(page, "Get User List")
    set_expression(page, GET_USER_LIST_JS)
    # An id templates could not read is refused where it is typed, and nothing changes.
    page.fill("[data-testid=node-id-input]", "user list")
    page.keyboard.press("Enter")
    assert "letters, digits and _" in page.inner_text("[data-testid=node-id-problem]")
    assert fetch in node_ids(page)
    page.fill("[data-testid=node-id-input]", "users")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=node-id-problem]", state="detached")
    page.wait_for_selector(".react-flow__node[data-id='users']")
    assert fetch not in node_ids(page)
    fetch = "users"

    # [Parallel Loop]: a container; its size comes from the canvas, so drop it with room to spare.
    # A loop dropped at a point has its top-left half a node box up and left of it.
    loop = drop_from_palette(page, "loop", start_x + 600 * zoom, row_y + 40 * zoom)
    open_panel(page, loop, ".fm-loop-head")
    rename(page, "Parallel Loop")
    set_code_field(page, "field-arrayPath", "{{users}}")
    page.fill("[data-testid='field-itemVariable']", "user")
    page.fill("[data-testid='field-outputVariable']", "results")
    assert page.locator("[data-testid='field-parallel-type']").input_value() == "boolean"
    page.check("[data-testid='field-parallel']")
    page.fill("[data-testid='field-maxConcurrency']", "10")
    page.fill("[data-testid='field-batchSize']", str(BATCH_SIZE))
    page.fill("[data-testid='field-rateLimit']", "50")
    loop_text = page.inner_text(f"[data-testid=node-{loop}]")
    assert "forEach {{users}}" in loop_text and "parallel ×10" in loop_text and f"batch {BATCH_SIZE}" in loop_text

    # [Enrich User Data]: dropped INTO the loop, so it becomes the loop body (runs once per user).
    loop_box = node_box(page, loop)

    def in_loop(x: float, y: float) -> tuple[float, float]:
        """A point inside the loop, in canvas units from its top-left, as canvas-relative pixels."""
        return loop_box["x"] - canvas["x"] + x * zoom, loop_box["y"] - canvas["y"] + y * zoom

    enrich = drop_from_palette(page, "transform", *in_loop(120, 84))
    open_panel(page, enrich)
    rename(page, "Enrich User Data")
    set_expression(page, ENRICH_USER_JS)
    # A Log below it in the body: the body is a small flow of its own, and `{{user…}}` templates
    # read the item. The body's last node gives the item's result (the Log passes its input on).
    note = drop_from_palette(page, "log", *in_loop(140, 176))
    open_panel(page, note)
    rename(page, "Note Enriched User")
    set_code_field(page, "field-message", "enriched {{user.name}} (item {{parallel.index}} of {{parallel.total}})")
    loop_box = node_box(page, loop)
    assert inside(node_box(page, enrich), loop_box) and inside(node_box(page, note), loop_box)

    # [Collect Results]: an Output after the loop, reading the loop's outputVariable.
    output = drop_from_palette(page, "output", loop_box["x"] - canvas["x"] + loop_box["width"] + 160 * zoom, row_y)
    open_panel(page, output)
    rename(page, "Collect Results")
    set_code_field(page, "field-value", "{{results}}")

    # Wire it up by dragging handles.
    connect(page, "start", fetch)
    connect(page, fetch, loop)
    connect(page, loop, output)
    connect(page, enrich, note)
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 4")
    assert page_errors.unexpected() == []

    save(page)
    definition = api_get(page, f"/api/workflows/{workflow_id}")["definition"]
    nodes = {n["id"]: n for n in definition["nodes"]}
    assert set(nodes) == {"start", fetch, loop, enrich, note, output}
    assert nodes[fetch]["name"] == "Get User List"
    assert nodes[fetch]["config"] == {"operation": "custom", "expression": GET_USER_LIST_JS}
    assert nodes[loop]["config"] == {
        "loopType": "forEach",
        "arrayPath": "{{users}}",
        "parallel": True,
        "maxConcurrency": 10,
        "itemVariable": "user",
        "outputVariable": "results",
        "batchSize": BATCH_SIZE,
        "rateLimit": 50,
    }
    assert nodes[enrich]["parentId"] == loop and nodes[note]["parentId"] == loop
    assert nodes[enrich]["config"]["expression"] == ENRICH_USER_JS
    assert "parentId" not in nodes[output]
    assert nodes[output]["config"] == {"value": "{{results}}"}
    assert sorted((e["source"], e["target"]) for e in definition["edges"]) == sorted(
        [("start", fetch), (fetch, loop), (loop, output), (enrich, note)]
    )
    validation = page.request.post(
        f"/api/workflows/{workflow_id}/validate",
        headers={"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")},
    ).json()
    assert validation == {"errors": [], "warnings": []}

    # Reload: the same graph, the body still drawn inside its loop.
    page.reload()
    page.wait_for_selector(f".react-flow__node[data-id='{note}']")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 4")
    # A graph wider than the canvas opens at its Start, and nodes off screen are not drawn:
    # zoom out (as a person would) until the whole graph is on the canvas. The first view
    # settles first (a fit, then the move to Start).
    page.wait_for_timeout(400)
    for _ in range(8):
        if len(node_ids(page)) == len(nodes):
            break
        page.click("[data-testid=canvas] .react-flow__controls-zoomout")
        page.wait_for_timeout(250)
    assert sorted(node_ids(page)) == sorted(nodes)
    loop_box = node_box(page, loop)
    assert inside(node_box(page, enrich), loop_box) and inside(node_box(page, note), loop_box)
    assert not inside(node_box(page, output), loop_box)
    assert page.inner_text(f"[data-testid=node-name-{fetch}]") == "Get User List"
    assert "forEach {{users}}" in page.inner_text(f"[data-testid=node-{loop}]")
    assert "Saved" in page.inner_text("[data-testid=save-state]")

    # Run from the editor's Run dialog and open the execution's timeline.
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    page.click("[data-testid=run-submit]")
    link = page.wait_for_selector("[data-testid=execution-link]")
    href = link.get_attribute("href")
    assert href
    match = re.fullmatch(r"/executions/(\d+)/", href)
    assert match
    execution_id = match.group(1)
    link.click()
    page.wait_for_url(f"**/executions/{execution_id}/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
        timeout=RUN_TIMEOUT_MS,
    )

    # The timeline groups the loop's items: 12 of them, one Enrich and one Log bar per user.
    group = "[data-testid=timeline-lane][data-lane-kind=loop]"
    page.wait_for_function(f"s => document.querySelector(s)?.textContent.includes('{USERS} items')", arg=group)
    fold = page.locator(f"{group} [data-testid=lane-fold]")
    if fold.text_content() == "▸":
        fold.click()
    page.wait_for_selector("[data-testid=timeline-lane][data-lane-kind=slot]")
    enrich_bars = page.locator(f"[data-testid=timeline-bar][data-node-id='{enrich}']")
    note_bars = page.locator(f"[data-testid=timeline-bar][data-node-id='{note}']")
    assert enrich_bars.count() == USERS and note_bars.count() == USERS
    assert page.locator(f"[data-testid=timeline-bar][data-node-id='{enrich}'][data-status=succeeded]").count() == USERS

    # The API: succeeded, and the output holds the 12 enriched users in item order.
    execution = api_get(page, f"/api/executions/{execution_id}")
    assert execution["status"] == "succeeded"
    results = execution["output"]["Collect Results"]
    assert [r["id"] for r in results] == list(range(1, USERS + 1))
    assert results[0] == {
        "id": 1,
        "name": "User 1",
        "email": "user.1@example.com",
        "position": 0,
        "batch": 0,
    }
    # batchSize 6: items 0–5 ran in batch 0, items 6–11 in batch 1.
    assert [r["batch"] for r in results] == [i // BATCH_SIZE for i in range(USERS)]
    enrich_runs = [r for r in execution["nodeRuns"] if r["nodeId"] == enrich]
    assert sorted(r["iteration"] for r in enrich_runs) == list(range(USERS))
    # Each item ran under its own trace id below the execution's.
    assert len({r["traceId"] for r in enrich_runs}) == USERS
    assert all(r["traceId"].startswith(execution["traceId"] + "-") for r in enrich_runs)
    # Batches run one after another: no body node run of the second batch started before
    # every body node run of the first had finished, so at most 6 items were ever in flight.
    body_runs = [r for r in execution["nodeRuns"] if r["nodeId"] in (enrich, note)]
    first = [r for r in body_runs if r["iteration"] < BATCH_SIZE]
    second = [r for r in body_runs if r["iteration"] >= BATCH_SIZE]
    assert len(first) == len(second) == BATCH_SIZE * 2
    assert max(moment(r["finishedAt"]) for r in first) <= min(moment(r["startedAt"]) for r in second)
    # The Log in the body filled in `{{user.name}}` and `{{parallel.*}}` for every item.
    events = api_get(page, f"/api/executions/{execution_id}/events?afterSeq=0")
    logged = {e["data"]["message"] for e in events if e["type"] == "log" and e["nodeId"] == note}
    assert logged == {f"enriched User {i + 1} (item {i} of {USERS})" for i in range(USERS)}
    assert page_errors.unexpected() == []
