"""The run page of a paused loop, as a new user reads it, in Chromium.

Three things misled a reviewer who paused a parallel loop and resumed it:
- the counts still read "1 running" while the run was paused: the loop node itself, whose
  items wait for the resume (or an approval waiting for a decision). A container held by
  the pause now counts as paused, an approval as waiting;
- the critical path read e.g. "704 ms" next to 23 s elapsed, with the paused time left out
  without a word. It now says "of work, paused 22 s";
- "pause sent" stayed on screen long after the run was paused (and "resume sent" after it
  ran again). A confirmation goes once the status it asked for is reached.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_post, loop_definition, wait_for_status
from tests.browser.test_approval import run_until_paused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGNAL_LINE = "[data-testid=signals] [role=status]"
RUNNING_BODY = "[data-testid=timeline-bar][data-node-id='work'][data-status='running']"


def test_a_paused_loop_reads_as_paused(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    definition = loop_definition(2, 700)
    workflow = api_post(page, "/api/workflows", {"name": "Loop", "definition": definition})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": list(range(8))}})
    page.goto(f"/executions/{run['id']}/")
    page.wait_for_selector(RUNNING_BODY, timeout=20_000)

    page.click("[data-testid=signal-pause]")
    wait_for_status(page, "paused")
    # The confirmation is gone once the run is paused (it stayed until the next action).
    page.wait_for_function("s => !document.querySelector(s)", arg=SIGNAL_LINE, timeout=2_000)

    # The items in flight finish; then nothing runs: the loop waits for the resume.
    page.wait_for_function("s => !document.querySelector(s)", arg=RUNNING_BODY, timeout=15_000)
    page.wait_for_timeout(1_200)  # a second of pause, so that the paused time shows
    counts = page.text_content("[data-testid=counts]") or ""
    assert "running" not in counts, counts
    assert "1 paused" in counts, counts
    critical = page.text_content("[data-testid=critical-path]") or ""
    assert "of work, paused" in critical, critical

    page.click("[data-testid=signal-resume]")
    page.click("[data-testid=resume-send]")
    wait_for_status(page, "running")
    page.wait_for_function("s => !document.querySelector(s)", arg=SIGNAL_LINE, timeout=2_000)
    wait_for_status(page, "succeeded", timeout=30_000)
    # Still after the run: its critical path left the paused time out, and says so.
    assert "of work, paused" in (page.text_content("[data-testid=critical-path]") or "")
    # The signal log: one line per click. A pause signal and the pause it caused were two
    # lines ("pause — …", "paused — …"), as were the resume and "resumed".
    log = [line.split(" ", 1)[1] for line in page.locator("[data-testid=signal-log-line]").all_inner_texts()]
    assert log == ["paused — paused from the timeline", "resumed"], log
    assert page_errors.unexpected() == []


def test_an_approval_waiting_for_a_decision_is_not_counted_as_running(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    run_until_paused(page, workflow["id"])
    page.wait_for_selector("[data-testid=approval]")
    counts = page.text_content("[data-testid=counts]") or ""
    assert "running" not in counts and "1 waiting" in counts, counts
    assert page_errors.unexpected() == []
