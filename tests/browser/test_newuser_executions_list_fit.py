"""The Executions list at 1280 and 800 px, in Chromium.

- At 800 px the table was wider than the page and cut a paused run's "Resume / approve…"
  off at the right edge. Every row's buttons are now fully on screen.
- At 1280 px a trace id broke after "trace-" and a start time before "PM". Each reads on
  one line.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def one_line(locator: Any) -> bool:
    return bool(locator.evaluate("el => el.getClientRects().length === 1"))


@pytest.mark.parametrize("width", [1280, 800])
def test_every_rows_buttons_are_on_screen_and_its_trace_id_is_one_line(logged_in_page: Any, page_errors: Any,
                                                                       width: int) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    refund = api_post(page, "/api/workflows", {"name": "Refund approval for big orders", "definition": APPROVAL})
    api_post(page, f"/api/workflows/{refund['id']}/run", {"input": {}})
    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(10)})
    api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {}})
    page.goto("/executions/")
    page.wait_for_selector("[data-testid=execution-row][data-status=paused] [data-testid=row-approve]", timeout=15_000)
    page.wait_for_selector("[data-testid=execution-row][data-status=succeeded]", timeout=15_000)

    rows = page.locator("[data-testid=execution-row]")
    assert rows.count() == 2
    for i in range(rows.count()):
        row = rows.nth(i)
        buttons = row.locator("button")
        for j in range(buttons.count()):
            box = buttons.nth(j).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (buttons.nth(j).inner_text(), box)
            # Not under the table's clipped edge either: the button is what is at its middle.
            assert buttons.nth(j).evaluate(
                """el => { const r = el.getBoundingClientRect();
                           return el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }""")
        if width >= 1280:
            assert one_line(row.locator("code")), row.locator("code").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []


ON_TOP = """el => { const r = el.getBoundingClientRect();
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return !!hit && (hit === el || el.contains(hit)); }"""


def usable(locator: Any, width: int) -> Any:
    """`locator` scrolled to (a phone's page scrolls down, never sideways), fully inside the
    window and the top-most thing at its middle."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert locator.evaluate(ON_TOP), "covered"
    return locator


@pytest.mark.parametrize("width", [360, 480])
def test_on_a_phone_each_run_is_a_card_with_its_controls_on_screen(logged_in_page: Any, page_errors: Any,
                                                                   width: int) -> None:
    """At 360 px the nine columns made the page 710 px wide: it scrolled sideways to reach
    a row's Approve… or Redrive, and the run's number and buttons were never on screen
    together. Under 600 px each run is a card and every control works from it."""
    from tests.browser.a11y import assert_accessible
    from tests.browser.test_dead_letters import failing_workflow

    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    refund = api_post(page, "/api/workflows", {"name": "Refund approval for big orders", "definition": APPROVAL})
    paused = api_post(page, f"/api/workflows/{refund['id']}/run", {"input": {}})
    fan = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(10)})
    done = api_post(page, f"/api/workflows/{fan['id']}/run", {"input": {}})
    charge = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    failed = api_post(page, f"/api/workflows/{charge['id']}/run", {"input": {"card": "4242"}})
    page.goto("/executions/")
    page.wait_for_selector("[data-testid=execution-row][data-status=paused] [data-testid=row-approve]", timeout=15_000)
    page.wait_for_selector("[data-testid=execution-row][data-status=succeeded]", timeout=15_000)
    page.wait_for_selector("[data-testid=execution-row][data-status=failed] [data-testid=row-redrive]", timeout=15_000)

    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(sizes) <= width, sizes
    # The cards use the width: the page's desktop margins (24 px a side) took an eighth of it.
    left = page.locator("[data-testid=execution-row]").first.bounding_box()
    assert left and left["x"] <= 12 and left["width"] >= width - 24, left
    for test_id in ("filter-status", "filter-workflow", "filter-trace", "select-all", "bulk-cancel", "bulk-version",
                    "bulk-rerun"):
        usable(page.locator(f"[data-testid={test_id}]"), width)
    rows = page.locator("[data-testid=execution-row]")
    assert rows.count() == 3
    for i in range(rows.count()):
        row = rows.nth(i)
        # The run's number, status and workflow are readable in the card, its details labelled.
        card = row.bounding_box()
        assert card and card["x"] >= 0 and card["x"] + card["width"] <= width, card
        text = row.inner_text()
        assert f"#{row.get_attribute('data-execution-id')}" in text and row.get_attribute("data-status") != ""
        labels = row.evaluate("""tr => [...tr.querySelectorAll('td[data-label]')].map(
            td => getComputedStyle(td, '::before').content.replace(/"/g, '') + td.innerText.trim())""")
        assert "Version: v1" in labels and any(label.startswith("Trace id: trace-") for label in labels), labels
        for control in [row.locator("[data-testid=execution-check]"), *[row.locator("button").nth(j)
                                                                         for j in range(row.locator("button").count())]]:
            usable(control, width)
    assert_accessible(page, f"the Executions list at {width} px")

    def row_of(run: dict[str, Any]) -> Any:
        return page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")

    # The status filter narrows the cards.
    page.select_option("[data-testid=filter-status]", "paused")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=execution-row]').length === 1")
    page.select_option("[data-testid=filter-status]", "")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=execution-row]').length === 3")

    # Approve… opens the approval's decision; Redrive asks the version.
    usable(row_of(paused).locator("[data-testid=row-approve]"), width).click()
    dialog = page.locator("[data-testid=approval-dialog]")
    dialog.wait_for()
    usable(dialog.locator("[data-testid=approval-dialog-approve]"), width)
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    usable(row_of(failed).locator("[data-testid=row-redrive]"), width).click()
    page.locator("[data-testid=redrive-dialog]").wait_for()
    page.keyboard.press("Escape")
    page.locator("[data-testid=redrive-dialog]").wait_for(state="detached")

    # Ticked on a card, the bulk buttons act on it: re-run the finished run, cancel the paused one.
    usable(row_of(done).locator("[data-testid=execution-check]"), width).check()
    usable(page.locator("[data-testid=bulk-rerun]"), width).click()
    page.wait_for_selector("[data-testid=executions-notice]:has-text('Re-ran 1 of 1')")
    usable(row_of(paused).locator("[data-testid=execution-check]"), width).check()
    usable(page.locator("[data-testid=bulk-cancel]"), width).click()
    page.wait_for_selector("[data-testid=executions-notice]:has-text('Cancelled 1 of 1')")
    page.wait_for_selector(f"[data-testid=execution-row][data-execution-id='{paused['id']}'][data-status=cancelled]",
                           timeout=15_000)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []
