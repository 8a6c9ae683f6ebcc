"""The editor's run bar and screen readers, in Chromium.

The whole bar was an `aria-live` region with its buttons inside: a screen reader read the
picker, "Re-run…", "Open timeline →" and "Hide run data" out again at every status change
of the run. Only the status is live now (a region of its own), and it still changes with
the run.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE = "[aria-live], [role=status], [role=alert], [role=log]"

# What a screen reader would re-read of each live region in the bar: its text, and every
# control (button, link, form field) inside it.
REGIONS = """(live) => {
  const bar = document.querySelector("[data-testid=run-bar]");
  const regions = [...(bar.matches(live) ? [bar] : []), ...bar.querySelectorAll(live)];
  return regions.map((region) => ({
    text: region.textContent.replace(/\\s+/g, " ").trim(),
    controls: [...region.querySelectorAll("button, a[href], select, input, textarea, [role=button], [tabindex]")]
      .map((c) => c.getAttribute("data-testid") || c.tagName.toLowerCase()),
    hasStatus: !!region.querySelector("[data-testid=execution-status]"),
  }));
}"""


def live_regions(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(REGIONS, LIVE))


def test_only_the_run_status_is_live_and_it_follows_the_run(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow_id = api_post(page, "/api/workflows", {"name": "Fan-out", "definition": fan_out(1500)})["id"]
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector(".react-flow__node")
    page.click("[data-testid=run]")
    page.click("[data-testid=run-submit]")
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'running'",
                           timeout=20_000)

    # The bar's buttons are there, and none of them is inside a live region. (The status can
    # show from the runs list a moment before the run itself has loaded, and "Re-run…" comes
    # with the run: CI once counted before it.)
    page.wait_for_selector("[data-testid=run-bar] [data-testid=rerun]", timeout=20_000)
    for test_id in ("run-picker", "rerun", "execution-link", "hide-badges"):
        assert page.locator(f"[data-testid=run-bar] [data-testid={test_id}]").count() == 1, test_id
    regions = live_regions(page)
    assert len(regions) == 1, regions
    (region,) = regions
    assert region["hasStatus"] and region["controls"] == [], region
    assert region["text"].endswith("running"), region

    # The same region still tells the run's end.
    page.wait_for_function("() => document.querySelector('[data-testid=execution-status]')?.textContent === 'succeeded'",
                           timeout=20_000)
    regions = live_regions(page)
    assert len(regions) == 1 and regions[0]["controls"] == [], regions
    assert regions[0]["text"].endswith("succeeded"), regions
    assert page_errors.unexpected() == []
