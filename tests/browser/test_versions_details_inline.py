"""A version's View and Compare open under the row clicked, in Chromium.

Probed with 25 versions: View or Compare on a row near the top rendered the details below the
whole list, ~1000 px further down the dialog and off screen, and the user saw nothing happen.
Now the details open inside the row (the row marked open, aria-expanded on its button, a
second click closes them) and are scrolled into view. On a phone (390 px) the rows' buttons
wrapped wherever the words ended; they keep together on one line, and the rows do not overflow
the dialog sideways (at 320 px either, where "Compare with draft" is "Compare")."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from editor.models import Workflow
from editor.services import workflow_create, workflow_update
from tests.browser.a11y import assert_accessible
from tests.conftest import SIMPLE_DEFINITION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VERSIONS = 25


def many_versions() -> Workflow:
    casey = get_user_model().objects.get(username="casey")

    def definition(n: int) -> dict[str, Any]:
        d = copy.deepcopy(SIMPLE_DEFINITION)
        d["nodes"][1]["config"]["values"] = {"version": n}
        return d

    workflow = workflow_create(owner=casey, name="Often saved", definition=definition(1))
    for n in range(2, VERSIONS + 1):
        workflow = workflow_update(workflow=workflow, user=casey, definition=definition(n))
    assert workflow.version == VERSIONS
    return workflow


# Where a version's details are: the row they belong to, and whether they are on screen
# (inside the window and inside the dialog's visible box, which scrolls).
PLACE = """([row, detail]) => {
  const d = document.querySelector(detail);
  if (!d) return null;
  const box = d.getBoundingClientRect();
  const dialog = document.querySelector('[data-testid=versions-dialog]').getBoundingClientRect();
  const top = Math.max(box.top, 0, dialog.top);
  const bottom = Math.min(box.bottom, window.innerHeight, dialog.bottom);
  return {
    inRow: !!d.closest(row),
    visible: bottom - top >= Math.min(40, box.height),
    headingVisible: (() => { const h = d.querySelector('h3').getBoundingClientRect();
                             return h.top >= Math.max(0, dialog.top) && h.bottom <= Math.min(window.innerHeight, dialog.bottom); })(),
  };
}"""


def place(page: Any, n: int, kind: str) -> Any:
    return page.evaluate(PLACE, [f"[data-testid=version-{n}]", f"[data-testid=version-{kind}-{n}]"])


def expanded(page: Any, button: str) -> str | None:
    value: str | None = page.get_attribute(f"[data-testid={button}]", "aria-expanded")
    return value


def test_view_and_compare_open_under_their_row_and_on_screen(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = many_versions()
    page.goto(f"/workflows/{workflow.pk}/")
    page.wait_for_selector(".react-flow__node[data-id='greet']")
    page.click("[data-testid=open-versions]")
    page.wait_for_selector(f"[data-testid=version-{VERSIONS}]")
    assert page.locator("[data-testid^=version-]:is(li)").count() == VERSIONS

    # View on the third row: its details are in that row and on screen; the row says so.
    page.click("[data-testid=view-23]")
    page.wait_for_selector("[data-testid=version-view-23]")
    assert place(page, 23, "view") == {"inRow": True, "visible": True, "headingVisible": True}
    assert expanded(page, "view-23") == "true"
    assert page.get_attribute("[data-testid=version-23]", "class") and "is-open" in (page.get_attribute("[data-testid=version-23]", "class") or "")
    controls = page.get_attribute("[data-testid=view-23]", "aria-controls")
    assert controls and page.locator(f"#{controls}").get_attribute("data-testid") == "version-view-23"
    # The open row's tint keeps the muted words readable (axe's contrast, names and ARIA rules).
    assert_accessible(page, "the versions dialog with v23 open")

    # Compare on the next row moves the details there (one open at a time).
    page.click("[data-testid=compare-22]")
    page.wait_for_selector("[data-testid=version-compare-22]")
    assert page.locator("[data-testid=version-view-23]").count() == 0
    assert expanded(page, "view-23") == "false" and expanded(page, "compare-22") == "true"
    assert place(page, 22, "compare") == {"inRow": True, "visible": True, "headingVisible": True}
    assert "v22 → your current draft" in page.inner_text("[data-testid=version-compare-22]")

    # A second click closes them.
    page.click("[data-testid=compare-22]")
    page.wait_for_selector("[data-testid=version-compare-22]", state="detached")
    assert expanded(page, "compare-22") == "false"
    assert "is-open" not in (page.get_attribute("[data-testid=version-22]", "class") or "")

    # A row far down the list: scrolled to, its details come into view under it.
    page.locator("[data-testid=view-2]").scroll_into_view_if_needed()
    page.click("[data-testid=view-2]")
    page.wait_for_selector("[data-testid=version-view-2]")
    assert place(page, 2, "view") == {"inRow": True, "visible": True, "headingVisible": True}
    assert page_errors.unexpected() == []


ROWS_FIT = """() => {
  const dialog = document.querySelector('[data-testid=versions-dialog]');
  const rows = [...dialog.querySelectorAll('li[data-testid^=version-]')];
  return {
    dialog: [dialog.scrollWidth, dialog.clientWidth],
    window: [document.documentElement.scrollWidth, window.innerWidth],
    overflowing: rows.filter((r) => r.scrollWidth > r.clientWidth).map((r) => r.dataset.testid),
    // A row's buttons on one line: their tops within a few px of each other.
    stacked: rows.filter((r) => {
      const tops = [...r.querySelectorAll(':scope button')].filter((b) => !b.closest('.fm-version-detail'))
        .map((b) => b.getBoundingClientRect().top);
      return Math.max(...tops) - Math.min(...tops) > 4;
    }).map((r) => r.dataset.testid),
    outside: rows.filter((r) => [...r.querySelectorAll('button')].some((b) => {
      const box = b.getBoundingClientRect(), d = dialog.getBoundingClientRect();
      return box.left < d.left || box.right > d.right;
    })).map((r) => r.dataset.testid),
  };
}"""


def test_on_a_phone_the_rows_fit_and_view_opens_under_its_row(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = many_versions()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/workflows/{workflow.pk}/")
    page.wait_for_selector(".react-flow__node[data-id='greet']")
    # On a phone the toolbar's Versions button is in the "⋯" menu.
    assert not page.locator("[data-testid=open-versions]").is_visible()
    page.click("[data-testid=toolbar-more]")
    page.click("[data-testid=more-versions]")
    page.wait_for_selector(f"[data-testid=version-{VERSIONS}]")

    fit = page.evaluate(ROWS_FIT)
    assert fit["dialog"][0] <= fit["dialog"][1], fit
    assert fit["window"][0] <= fit["window"][1], fit
    assert fit["overflowing"] == [] and fit["outside"] == [], fit
    assert fit["stacked"] == [], fit

    page.click("[data-testid=view-24]")
    page.wait_for_selector("[data-testid=version-view-24]")
    assert place(page, 24, "view") == {"inRow": True, "visible": True, "headingVisible": True}
    # The open details (node list, JSON) do not widen the dialog either.
    page.click("[data-testid=version-view-24] summary")
    fit = page.evaluate(ROWS_FIT)
    assert fit["dialog"][0] <= fit["dialog"][1] and fit["overflowing"] == [], fit
    page.click("[data-testid=view-24]")
    page.wait_for_selector("[data-testid=version-view-24]", state="detached")
    assert expanded(page, "view-24") == "false"

    # The smallest phones (320 px): "Compare with draft" says "Compare" there, and the
    # buttons still keep one line.
    page.set_viewport_size({"width": 320, "height": 640})
    fit = page.evaluate(ROWS_FIT)
    assert fit["dialog"][0] <= fit["dialog"][1] and fit["overflowing"] == [] and fit["outside"] == [], fit
    assert fit["stacked"] == [], fit
    assert page_errors.unexpected() == []
