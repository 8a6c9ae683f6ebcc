"""The `/dead-letters/` page in a real Chromium against daphne and its in-process engine
(issue 5): a failed run of a workflow whose queue keeps dead letters is listed; the user
inspects it, replays it (a new execution, linked), and discards another."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def failing_workflow() -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "name": "Charge cards",
        "settings": {"queue": {"deadLetterQueue": True}},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "charge", "type": "fail", "name": "Charge", "position": {"x": 250, "y": 0},
             "config": {"message": "card {{input.card}} declined", "retry": {"maxAttempts": 2, "initialDelay": 10}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "charge"}],
    }


def wait_dead_letters(page: Any, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        letters = page.request.get("/api/dead-letters?state=open").json()
        if len(letters) >= count:
            return letters
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} dead letters")


def test_list_inspect_replay_and_discard(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    page.goto("/dead-letters/")
    page.wait_for_selector("[data-testid=dead-letters-empty]")
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    first = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": "4242"}})
    second = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": "0000"}})
    letters = wait_dead_letters(page, 2)
    by_execution = {letter["execution"]: letter for letter in letters}

    page.reload()
    rows = page.locator("[data-testid=dead-letter-row]")
    rows.first.wait_for()
    assert rows.count() == 2
    replay_id = by_execution[first["id"]]["id"]
    discard_id = by_execution[second["id"]]["id"]
    row = page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{replay_id}']")
    assert "card 4242 declined" in row.locator("[data-testid=dead-letter-error]").text_content()

    # Inspect: input, error and trace id.
    row.locator("[data-testid=dead-letter-inspect]").click()
    detail = page.locator("[data-testid=dead-letter-detail]")
    assert '"card": "4242"' in detail.locator("[data-testid=dead-letter-input]").text_content()
    assert "declined" in detail.locator("[data-testid=dead-letter-error-detail]").text_content()
    assert first["traceId"] in detail.text_content()

    # Replay: a new execution, linked from the notice; the row leaves the open list.
    row.locator("[data-testid=dead-letter-replay]").click()
    notice = page.locator("[data-testid=dead-letter-notice]")
    notice.wait_for()
    assert f"Dead letter #{replay_id} replayed as execution #" in notice.text_content()
    replayed_href = notice.locator("a").get_attribute("href")
    assert replayed_href and replayed_href.startswith("/executions/")
    page.wait_for_function(
        f"!document.querySelector(\"[data-testid=dead-letter-row][data-dead-letter-id='{replay_id}']\")")

    # Discard the other one.
    page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{discard_id}'] [data-testid=dead-letter-discard]").click()
    page.wait_for_selector(f"text=Dead letter #{discard_id} discarded.")

    # Under "any" state both are listed with what happened to them.
    page.select_option("[data-testid=filter-state]", "")
    replayed_row = page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{replay_id}']")
    replayed_row.wait_for()
    assert replayed_row.get_attribute("data-state") == "replayed"
    assert replayed_row.locator("[data-testid=dead-letter-state] a").get_attribute("href") == replayed_href
    discarded_row = page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{discard_id}']")
    assert discarded_row.get_attribute("data-state") == "discarded"
    assert page_errors.unexpected() == []
