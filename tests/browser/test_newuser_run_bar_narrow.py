"""The editor's run bar in a narrow window (a phone held sideways, a window beside the
docs), in Chromium, while a run waits for an approval.

Under ~700 px the bar's right-most controls were past the window's right edge: at 480 px
"Hide run data" was cut off, so run data could not be hidden, and the status beside the
approval's button read "1: waiti…". Every action of the bar is now reachable (the less
frequent ones in its "⋯" menu), each fully on screen and clickable, and the bar is one row.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAR = "[data-testid=run-bar]"


def reachable(page: Any, test_id: str, width: int) -> Any:
    """The control of the bar that does `test_id`: shown in the bar, or else in its menu;
    asserted fully inside the window and the top-most element at its middle."""
    inline = page.locator(f"{BAR} [data-testid={test_id}]")
    if inline.count() and inline.is_visible():
        control = inline
    else:
        page.locator(f"{BAR} [data-testid=run-more]").click()
        control = page.locator(f"[data-testid=more-{test_id}]")
        control.wait_for(timeout=3_000)
    box = control.bounding_box()
    assert box, test_id
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (test_id, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= 760, (test_id, box)
    on_top = control.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                   return !!hit && (hit === el || el.contains(hit)); }""")
    assert on_top, f"{test_id} is covered at its middle"
    return control


@pytest.mark.parametrize("width", [360, 480, 640])
def test_every_run_bar_control_is_on_screen_beside_a_waiting_approval(logged_in_page: Any, page_errors: Any,
                                                                      width: int) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    execution_id = run_until_paused(page, workflow["id"])
    page.set_viewport_size({"width": width, "height": 760})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(f"{BAR} [data-testid=canvas-approve]")
    page.wait_for_selector("[data-testid=status-start]", state="attached", timeout=10_000)

    # One row, nothing past its end, the status readable in full.
    bar = page.locator(BAR).bounding_box()
    assert bar and bar["height"] <= 44, bar
    assert page.locator(BAR).evaluate("el => el.scrollWidth <= el.clientWidth")
    status = page.locator(f"{BAR} .fm-runbar-status")
    # (At 360 px it takes two lines: test_phone_approval_status.py.)
    assert status.evaluate("el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight"), status.inner_text()
    for test_id in ("run-picker", "canvas-approve"):
        reachable(page, test_id, width)

    # Each action does what it says.
    reachable(page, "hide-badges", width).click()
    page.wait_for_selector("[data-testid=status-start]", state="detached", timeout=5_000)
    reachable(page, "hide-badges", width).click()
    page.wait_for_selector("[data-testid=status-start]", state="attached", timeout=5_000)

    reachable(page, "rerun", width).click()
    page.wait_for_selector("[data-testid=rerun-dialog]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=rerun-dialog]", state="detached")

    reachable(page, "canvas-approve", width).click()
    page.wait_for_selector("[data-testid=approval-dialog]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=approval-dialog]", state="detached")

    reachable(page, "execution-link", width).click()
    page.wait_for_url(f"**/executions/{execution_id}/")
    assert page_errors.unexpected() == []


@pytest.mark.parametrize("width", [360, 480])
def test_on_a_phone_the_run_picker_shows_the_runs_number(logged_in_page: Any, page_errors: Any, width: int) -> None:
    """At 360 px, beside a waiting approval, the picker was squeezed to ~48 px and showed
    "#" and its caret: which run the canvas showed could not be read. On a phone it is as
    wide as the run's number (a four-digit one here), and the opened list still says each
    run's status."""
    from django.db import connection

    from editor.models import Workflow
    from engine.models import Execution

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    # An older run numbered 1590, so that the one the canvas shows is #1591, as on a server
    # that has run for a while.
    saved = Workflow.objects.get(pk=workflow["id"])
    Execution.objects.create(id=1590, workflow=saved, version=saved.versions.order_by("-number").first(),
                             owner=saved.owner, status="cancelled", trace_id="trace-old")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('engine_execution', 'id'), 1590)")
    execution_id = run_until_paused(page, workflow["id"])
    assert execution_id >= 1000
    page.set_viewport_size({"width": width, "height": 760})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(f"{BAR} [data-testid=canvas-approve]")
    picker = reachable(page, "run-picker", width)
    assert picker.input_value() == str(execution_id)
    # The number's text fits in the picker beside its caret (~20 px): nothing of it is cut.
    room = picker.evaluate("""(el, text) => {
        const style = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        return [ctx.measureText(text).width,
                el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20]; }""",
                           f"#{execution_id}")
    assert room[0] <= room[1], room
    options = picker.locator("option").all_inner_texts()
    assert any(text.startswith(f"#{execution_id} · paused") for text in options), options
    # The bar is still one row, nothing past its end, and its status says something.
    assert page.locator(BAR).evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page.locator(f"{BAR} [data-testid=execution-status]").evaluate("el => el.getBoundingClientRect().width > 30")
    reachable(page, "canvas-approve", width).click()
    page.wait_for_selector("[data-testid=approval-dialog]")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []
