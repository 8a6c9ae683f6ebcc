"""A run waiting for an approval, on a phone (360 px): the editor's run bar says so in full.

Beside the run's number (#1591 on a server that has run for a while) and "Approve…", the
bar's status had ~40 px and read "…" (at best "waiting for appr…"): what the run waited for
could be read only in a tooltip, which a phone has no pointer to show. On a phone the status
now takes two short lines inside the bar's one row, and every word of it is on screen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAR = "[data-testid=run-bar]"

# Each line box of the status, and whether all of them lie inside the status's (clipping) box
# and the bar: a word cut off or hidden under the ellipsis fails.
LINES = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const box = el.getBoundingClientRect();
  const bar = el.closest('[data-testid=run-bar]').getBoundingClientRect();
  const words = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const word = document.createRange();
      word.setStart(node, match.index);
      word.setEnd(node, match.index + match[0].length);
      const r = word.getBoundingClientRect();
      if (r.width === 0) continue;  // (a word hidden on a phone, like "Execution")
      words.push({ word: match[0], inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5
        && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5 && r.top >= bar.top && r.bottom <= bar.bottom });
    }
  }
  return { words, clipped: el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight,
           fontSize: parseFloat(getComputedStyle(el).fontSize) };
}"""


def make_run_1591(page: Any, workflow_id: int) -> int:
    """The run the canvas shows is #1591 (an older one is #1590), as on a busy server."""
    from django.db import connection

    from editor.models import Workflow
    from engine.models import Execution

    saved = Workflow.objects.get(pk=workflow_id)
    version = saved.versions.order_by("-number").first()
    assert version is not None
    Execution.objects.create(id=1590, workflow=saved, version=version,
                             owner=saved.owner, status="cancelled", trace_id="trace-old")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('engine_execution', 'id'), 1590)")
    return run_until_paused(page, workflow_id)


@pytest.mark.parametrize("width", [360, 400])
@pytest.mark.parametrize("busy_server", [False, True], ids=["run-1", "run-1591"])
def test_a_waiting_approvals_status_is_readable_on_a_phone(logged_in_page: Any, page_errors: Any, width: int,
                                                          busy_server: bool) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    execution_id = make_run_1591(page, workflow["id"]) if busy_server else run_until_paused(page, workflow["id"])
    page.set_viewport_size({"width": width, "height": 760})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(f"{BAR} [data-testid=canvas-approve]")
    assert page.locator("[data-testid=run-picker]").input_value() == str(execution_id)

    status = page.locator(f"{BAR} [data-testid=execution-status]")
    assert status.inner_text() == "waiting for approval"
    shown = page.locator(f"{BAR} .fm-runbar-status").evaluate(LINES)
    assert [w["word"] for w in shown["words"]] == ["waiting", "for", "approval"], shown
    assert all(w["inside"] for w in shown["words"]) and not shown["clipped"], shown
    assert shown["fontSize"] >= 11.5, shown
    # The bar is still one row of its height, nothing past its end, its controls on screen.
    bar = page.locator(BAR).bounding_box()
    assert bar and bar["height"] <= 44, bar
    assert page.locator(BAR).evaluate("el => el.scrollWidth <= el.clientWidth")
    for selector in ("[data-testid=run-picker]", "[data-testid=canvas-approve]", "[data-testid=run-more]"):
        box = page.locator(f"{BAR} {selector}").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    page.locator(f"{BAR} [data-testid=canvas-approve]").click()
    page.wait_for_selector("[data-testid=approval-dialog]")
    assert page_errors.unexpected() == []
