"""The workflow list in a 1024×700 window, in Chromium.

The row's five action buttons never wrapped, so the Name column took what was left: about
100 px, where the demos' names broke after every word and the parallel-loop demo's
description ran down 15 lines, one row filling the window. The name column now keeps a
readable width and the buttons wrap instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post
from tests.browser.test_newuser_first_view import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_names_and_descriptions_stay_readable_at_1024(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 700})
    for name in ("05_parallel_loop_enrich_users.json", "03_parallel_validation.json"):
        api_post(page, "/api/workflows", demo(name))
    page.goto("/workflows/")
    page.locator("[data-testid=workflow-link]").first.wait_for()
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
