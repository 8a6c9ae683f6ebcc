"""The workflow list in a 1024×700 window, in Chromium.

The row's five action buttons never wrapped, so the Name column took what was left: about
100 px, where the demos' names broke after every word and the parallel-loop demo's
description ran down 15 lines, one row filling the window. The name column now keeps a
readable width and the buttons wrap instead.

At 800 px the buttons still ran past the page's right edge, cut off by the table ("Rename",
"Executions" half shown). There they stack, one per line, and every one is on screen.

On a phone (360 and 480 px) the table was still ~200 px wider than the window: the page
scrolled sideways and a description ran down twenty lines. Under 600 px each workflow is a
card (its name and description the whole width, its details and buttons on wrapping lines).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.helpers import api_post
from tests.browser.test_newuser_first_view import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def two_demos_listed(page: Any, width: int) -> Any:
    """The Workflows page at `width`, listing two demos with long names and descriptions."""
    page.set_viewport_size({"width": width, "height": 700})
    for name in ("05_parallel_loop_enrich_users.json", "03_parallel_validation.json"):
        api_post(page, "/api/workflows", demo(name))
    page.goto("/workflows/")
    page.locator("[data-testid=workflow-link]").first.wait_for()
    return page


def test_names_and_descriptions_stay_readable_at_1024(logged_in_page: Any, page_errors: Any) -> None:
    page = two_demos_listed(logged_in_page, 1024)
    cells = page.evaluate("""() => [...document.querySelectorAll('[data-testid=workflow-link]')].map(a => {
        const td = a.closest('td').getBoundingClientRect(), tr = a.closest('tr').getBoundingClientRect();
        return [a.textContent, Math.round(td.width), Math.round(tr.height)];
    })""")
    for name, width, height in cells:
        assert width >= 220, (name, width)
        assert height <= 200, (name, height)
    # Every action is still there, and nothing runs off the page.
    assert page.locator("[data-testid=workflow-table] tbody tr").first.locator("a, button").count() >= 5
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert page.evaluate("""() => document.querySelector('[data-testid=workflow-table]').getBoundingClientRect().right
                                  <= document.querySelector('.fm-list-head').getBoundingClientRect().right + 1""")
    assert page_errors.unexpected() == []


def test_every_rows_buttons_are_on_screen_at_800(logged_in_page: Any, page_errors: Any) -> None:
    page = two_demos_listed(logged_in_page, 800)
    row = page.locator("[data-testid=workflow-table] tbody tr").first
    controls = row.locator("td.fm-actions a, td.fm-actions button")
    assert controls.count() >= 5
    for i in range(controls.count()):
        control = controls.nth(i)
        box = control.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 800, (control.inner_text(), box)
        # What is at its middle is the control itself, not the page past the table's clipped edge.
        assert control.evaluate("""el => { const r = el.getBoundingClientRect();
                                          return el.contains(document.elementFromPoint(r.left + r.width / 2,
                                                                                        r.top + r.height / 2)); }"""), \
            control.inner_text()
    name_width = page.evaluate("() => document.querySelector('[data-testid=workflow-link]').closest('td').getBoundingClientRect().width")
    assert name_width >= 130, name_width
    assert page.evaluate("""() => document.querySelector('[data-testid=workflow-table]').getBoundingClientRect().right
                                  <= document.querySelector('.fm-list-head').getBoundingClientRect().right + 1""")
    assert page_errors.unexpected() == []


@pytest.mark.parametrize("width", [360, 480, 560])
def test_on_a_phone_the_list_fits_the_window(logged_in_page: Any, page_errors: Any, width: int) -> None:
    page = two_demos_listed(logged_in_page, width)
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(sizes) <= width, sizes
    for test_id in ("new-workflow-name", "create-workflow", "load-demos", "import-workflow", "workflow-search"):
        box = page.locator(f"[data-testid={test_id}]").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (test_id, box)
    assert_accessible(page, f"the workflow list at {width} px")
    rows = page.locator("[data-testid=workflow-table] tbody tr")
    for r in range(rows.count()):
        row = rows.nth(r)
        # The name and its description have the card's width, so the description stays short.
        cell = row.locator("td.fm-name-cell").bounding_box()
        assert cell and cell["width"] >= width * 0.75 and cell["height"] <= 200, cell
        # Every button is on screen and not covered, and the details are still there.
        controls = row.locator("td.fm-actions a, td.fm-actions button")
        assert controls.count() >= 5
        for i in range(controls.count()):
            control = controls.nth(i)
            control.scroll_into_view_if_needed()  # (a phone's page scrolls down, never sideways)
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (control.inner_text(), box)
            assert control.evaluate("""el => { const r = el.getBoundingClientRect();
                                              return el.contains(document.elementFromPoint(r.left + r.width / 2,
                                                                                            r.top + r.height / 2)); }"""), \
                control.inner_text()
        # The details are labelled (the column headers are not shown): "Nodes: 9", "Version: v1".
        details = row.evaluate("""tr => [...tr.querySelectorAll('td[data-label]')].map(
            td => getComputedStyle(td, '::before').content.replace(/"/g, '') + td.innerText.trim())""")
        assert "Version: v1" in details and "Last run: never run" in details, details
        assert any(d.startswith("Nodes: ") for d in details), details
    # Sorting still works from the headers that remain.
    first = page.locator("[data-testid=workflow-link]").first.inner_text()
    page.click("[data-testid=sort-name]")
    page.wait_for_function("n => document.querySelector('[data-testid=workflow-link]').textContent !== n", arg=first)
    # Duplicate, from a card, works.
    rows.first.locator("[data-testid=duplicate]").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=workflow-table] tbody tr').length === 3")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []
