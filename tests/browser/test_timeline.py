"""The live execution pages in a real Chromium against daphne and the real engine (issue 4).

Workflows are created and run through the HTTP API (POST /api/workflows, then /run) from
the logged-in browser context, and the engine inside the daphne process runs them; the
assertions are on what the page shows while it happens, without any reload.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out, loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUN_INPUT = {"order": 42}



def start_run(page: Any, definition: dict[str, Any], run_input: dict[str, Any]) -> dict[str, Any]:
    workflow = api_post(page, "/api/workflows", {"name": definition["name"], "definition": definition})
    return api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": run_input})


def bar(node_id: str, status: str | None = None) -> str:
    selector = f"[data-testid=timeline-bar][data-node-id='{node_id}']"
    return selector + (f"[data-status='{status}']" if status else "")


def test_watch_a_fan_out_live_then_read_the_second_branch(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    # 3 s: on a machine shared with other test runs the page may take a second to show the run.
    run = start_run(page, fan_out(3000), RUN_INPUT)
    trace = run["traceId"]
    page.goto(f"/executions/{run['id']}/")
    page.evaluate("window.__sameDocument = true")

    # While it runs: three bars running at once, one per branch lane, and a moving now line.
    for i in (1, 2, 3):
        page.wait_for_selector(bar(f"process_{i}", "running"))
    page.wait_for_selector("[data-testid=now-line]")
    assert page.text_content("[data-testid=execution-status]") == "running"
    lanes = page.eval_on_selector_all(
        "[data-testid=timeline-lane][data-lane-kind=branch]",
        "els => els.map(e => [e.getAttribute('data-lane-id'), e.getAttribute('data-branch-name')])",
    )
    assert ["branch:1", "branch_a"] in lanes and ["branch:2", "branch_b"] in lanes and ["branch:3", "branch_c"] in lanes
    lane_of = {i: page.get_attribute(bar(f"process_{i}"), "data-lane") for i in (1, 2, 3)}
    assert lane_of == {1: "branch:1", 2: "branch:2", 3: "branch:3"}

    # Then they complete, and the merge after them, with no reload.
    page.wait_for_selector(bar("aggregate", "succeeded"), timeout=15_000)
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]').textContent === 'succeeded'")
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("[data-testid=now-line]").count() == 0
    boxes = [page.locator(bar(f"process_{i}") + " rect.tl-run").bounding_box() for i in (1, 2, 3)]
    assert all(boxes)
    # Overlapping: every bar starts before any of them ends (drawn on one time axis).
    assert max(b["x"] for b in boxes) < min(b["x"] + b["width"] for b in boxes)
    assert len({round(b["y"]) for b in boxes}) == 3  # three lanes, one above the other
    assert "5 succeeded" in page.text_content("[data-testid=counts]")
    concurrency = float(page.text_content("[data-testid=achieved-concurrency]").rstrip("×"))
    assert concurrency > 1.5
    page.wait_for_selector(bar("aggregate") + "[data-critical=true]")
    assert page.locator("[data-testid=timeline-bar][data-critical=true]").count() == 3

    # Click the second branch's lane: its branch and trace id.
    page.click("[data-testid=timeline-lane][data-lane-id='branch:2'] [data-testid=lane-label]")
    panel = page.locator("[data-testid=side-panel]")
    assert panel.locator("[data-testid=panel-title]").text_content() == "branch_b"
    assert panel.locator("[data-testid=panel-trace-id]").text_content() == f"{trace}-002"

    # Click its bar: output, trace id, timings.
    page.click(bar("process_2") + " rect.tl-run")
    assert panel.locator("[data-testid=panel-title]").text_content() == "Process 2"
    assert panel.locator("[data-testid=panel-trace-id]").text_content() == f"{trace}-002"
    page.wait_for_selector("[data-testid=panel-output]")
    assert '"order": 42' in panel.locator("[data-testid=panel-output]").text_content()
    assert panel.locator("[data-testid=panel-branch]").text_content().startswith("branch_b")
    run_time = panel.locator("[data-testid=panel-run-time]").text_content()
    assert run_time.endswith(" s") and float(run_time.split()[0]) >= 2.9

    # The trace tree lists the three branch traces under the execution's.
    for suffix in ("-001", "-002", "-003"):
        assert page.locator(f"[data-testid=trace-node][data-trace-id='{trace}{suffix}']").count() == 1
    # The mini canvas colours the nodes by status.
    assert page.locator("[data-testid=mini-canvas] .react-flow__node").count() == 5
    assert page_errors.unexpected() == []


def test_the_execution_list_updates_live(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    page.goto("/executions/")
    page.wait_for_selector("[data-testid=stream-state]:has-text('live')")
    page.evaluate("window.__sameDocument = true")
    run = start_run(page, fan_out(600), RUN_INPUT)
    row = f"[data-testid=execution-row][data-execution-id='{run['id']}']"
    page.wait_for_selector(row, timeout=10_000)
    page.wait_for_selector(row + "[data-status=succeeded]", timeout=15_000)
    assert run["traceId"] in page.text_content(row)
    assert "Fan-out" in page.text_content(row)
    assert page.evaluate("window.__sameDocument") is True

    # Filters: another status hides it; a trace id search finds it.
    page.select_option("[data-testid=filter-status]", "failed")
    assert page.locator(row).count() == 0
    page.select_option("[data-testid=filter-status]", "")
    page.fill("[data-testid=filter-trace]", run["traceId"])
    assert page.locator("[data-testid=execution-row]").count() == 1
    page.click(row + " a")
    page.wait_for_selector(bar("aggregate", "succeeded"))
    assert page_errors.unexpected() == []


def test_loop_items_fold_into_a_density_strip_and_unfold_into_slots(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    run = start_run(page, loop_definition(concurrency=8, duration_ms=150), {"items": list(range(24))})
    page.goto(f"/executions/{run['id']}/")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
                           timeout=20_000)
    group = "[data-testid=timeline-lane][data-lane-kind=loop]"
    page.wait_for_selector(group + " [data-testid=density-strip] rect")
    # More than six concurrent slots: folded at first, the items summarised in the group row.
    page.wait_for_function("s => document.querySelector(s).textContent.includes('24 items')", arg=group)
    assert page.locator("[data-testid=timeline-lane][data-lane-kind=slot]").count() == 0
    page.click(group + " [data-testid=lane-fold]")
    slots = page.locator("[data-testid=timeline-lane][data-lane-kind=slot]")
    assert slots.count() == 8
    assert page.locator(bar("work")).count() == 24
    # An item bar names its iteration and its own trace id under the loop's.
    page.click(bar("work") + " rect.tl-run >> nth=0")
    trace = page.text_content("[data-testid=side-panel] [data-testid=panel-trace-id]")
    assert trace.startswith(run["traceId"] + "-")

    # The mini canvas draws the loop body inside its loop: the body's position is relative
    # to the loop (SPEC §3), not a spot on the canvas of its own.
    mini = "[data-testid=mini-canvas] .react-flow__node"
    loop_box = page.locator(f"{mini}[data-id='loop']").bounding_box()
    work_box = page.locator(f"{mini}[data-id='work']").bounding_box()
    assert loop_box and work_box
    assert loop_box["x"] < work_box["x"] and work_box["x"] + work_box["width"] < loop_box["x"] + loop_box["width"], (loop_box, work_box)
    assert loop_box["y"] < work_box["y"] and work_box["y"] + work_box["height"] < loop_box["y"] + loop_box["height"], (loop_box, work_box)
    # The body is drawn above its loop, so a click on it selects the body node's run.
    page.locator(f"{mini}[data-id='start']").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=side-panel] [data-testid=panel-title]')?.textContent === 'Start'")
    page.locator(f"{mini}[data-id='work']").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=side-panel] [data-testid=panel-title]')?.textContent === 'Work'")
    assert page_errors.unexpected() == []


def test_someone_elses_execution_is_not_found(logged_in_page: Any, live_server_url: str):
    from django.contrib.auth import get_user_model

    from editor.services import workflow_create
    from engine import services
    from engine.runtime import stop_engine

    other = get_user_model().objects.create_user(username="dana", password="dana-password-1")
    workflow = workflow_create(owner=other, name="Private", description="", definition=fan_out(1))
    execution = services.execution_start(workflow=workflow, user=other, input={})
    stop_engine(1)  # the run itself does not matter here; the daphne engine may take it
    response = logged_in_page.goto(f"/executions/{execution.pk}/")
    assert response.status == 404
