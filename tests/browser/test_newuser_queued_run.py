"""The page of a run that is still queued, in Chromium.

A run held by its workflow's `queue.maxConcurrentRuns` (another run of it is paused at an
approval) showed an empty chart whose axis labels, "0 1 µs 2 µs … 10 µs", were drawn on
top of each other, and nothing said why the run had not started. The chart now says it is
queued and, when the workflow limits its concurrent runs, that it waits for a place.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_get, api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_queued_run_says_why_it_waits(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    definition = {**APPROVAL, "settings": {"queue": {"maxConcurrentRuns": 1}}}
    workflow = api_post(page, "/api/workflows", {"name": "One at a time", "definition": definition})
    first = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.wait_for_function(
        "async (id) => (await (await fetch(`/api/executions/${id}`)).json()).status === 'paused'",
        arg=first["id"], polling=200, timeout=20_000)
    second = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {}})
    page.wait_for_timeout(1500)  # a few engine polls: it stays queued behind the first
    assert api_get(page, f"/api/executions/{second['id']}")["status"] == "queued"

    page.goto(f"/executions/{second['id']}/")
    wait_for_status(page, "queued")
    note = page.locator("[data-testid=queued-note]")
    note.wait_for()
    text = note.inner_text()
    assert "not started yet" in text and "at most 1 run at once" in text and "queue.maxConcurrentRuns" in text
    assert page.locator("[data-testid=axis-tick]").count() == 0  # no axis of a run that has no time yet
    assert page_errors.unexpected() == []
