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

    # Replay: a dialog (version, input), then a new execution, linked from the notice; the row
    # leaves the open list.
    row.locator("[data-testid=dead-letter-replay]").click()
    page.locator("[data-testid=rerun-submit]").click()
    notice = page.locator("[data-testid=dead-letter-notice]")
    notice.wait_for()
    assert f"Dead letter #{replay_id} replayed on the original version as execution #" in notice.text_content()
    replayed_href = notice.locator("a").get_attribute("href")
    assert replayed_href and replayed_href.startswith("/executions/")
    page.wait_for_function(
        f"() => !document.querySelector(\"[data-testid=dead-letter-row][data-dead-letter-id='{replay_id}']\")")

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


def test_a_late_answer_for_the_filter_before_does_not_replace_the_list(logged_in_page: Any, page_errors: Any):
    """A discard reloads the open list; the user switches to "any" state before that answer is
    back. The server answers on several threads, so the open list can arrive last: it must not
    replace the list the filter now asks for (CI saw the replayed row vanish this way)."""
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    for card in ("4242", "0000"):
        api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": card}})
    first, second = sorted(letter["id"] for letter in wait_dead_letters(page, 2))
    api_post(page, f"/api/dead-letters/{first}/discard", {})

    page.goto("/dead-letters/")
    rows = page.locator("[data-testid=dead-letter-row]")
    rows.first.wait_for()
    assert rows.count() == 1

    held: list[Any] = []
    is_open_list = lambda url: "/api/dead-letters?state=open" in url  # noqa: E731
    def hold(route: Any) -> None:  # the first open list after the discard waits; later ones go
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(is_open_list, hold)
    page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{second}'] [data-testid=dead-letter-discard]").click()
    page.wait_for_selector(f"text=Dead letter #{second} discarded.")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the discard did not reload the open list"

    page.select_option("[data-testid=filter-state]", "")
    page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{first}']").wait_for()  # only under "any"
    assert rows.count() == 2
    with page.expect_response(lambda response: is_open_list(response.url)):
        held[0].continue_()  # the open list (now empty) comes back last
    page.wait_for_timeout(300)  # time for a late answer to be drawn, were it drawn
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-state") for i in range(2)} == {"discarded"}
    assert not page.locator("[data-testid=dead-letters-empty]").is_visible()
    assert page_errors.unexpected() == []


def wait_execution(page: Any, execution_id: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = page.request.get(f"/api/executions/{execution_id}").json()
        if body["status"] in ("succeeded", "failed", "cancelled", "timed_out"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not finish")


def test_fix_the_workflow_then_replay_dead_letters_on_the_latest_version(logged_in_page: Any, page_errors: Any):
    """The journey of issue 16: runs fail and are kept; the user fixes the workflow (v2) and
    replays them on the latest version, one with an edited input and two at once; all succeed."""
    page = logged_in_page
    definition = failing_workflow()
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": definition})
    runs = [api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": card}}) for card in ("1", "2", "3")]
    letters = wait_dead_letters(page, 3)
    by_execution = {letter["execution"]: letter["id"] for letter in letters}

    # The fix: v2 charges with an output node instead of failing.
    definition["nodes"][1] = {"id": "charge", "type": "output", "name": "Charge", "position": {"x": 250, "y": 0},
                              "config": {"value": "charged {{input.card}}"}}
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    assert page.request.patch(f"/api/workflows/{workflow['id']}", data={"definition": definition},
                              headers={"X-CSRFToken": token}).ok

    page.goto("/dead-letters/")
    page.locator("[data-testid=dead-letter-row]").first.wait_for()
    assert set(page.locator("[data-testid=dead-letter-version]").all_text_contents()) == {"v1"}

    # One replay on the latest version with an edited input.
    one = by_execution[runs[0]["id"]]
    page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{one}'] [data-testid=dead-letter-replay]").click()
    dialog = page.locator("[data-testid=rerun-dialog]")
    assert '"card": "1"' in dialog.locator("[data-testid=rerun-input]").input_value()
    dialog.locator("text=The latest version (v2)").wait_for()
    dialog.locator("[data-testid=rerun-latest]").check()
    dialog.locator("[data-testid=rerun-input]").fill('{"card": "1-fixed"}')
    dialog.locator("[data-testid=rerun-submit]").click()
    notice = page.locator("[data-testid=dead-letter-notice]")
    notice.wait_for()
    assert "on the latest version" in notice.text_content()
    new_id = int(notice.locator("a").get_attribute("href").strip("/").split("/")[-1])
    replayed = wait_execution(page, new_id)
    assert (replayed["status"], replayed["version"]) == ("succeeded", 2)
    assert "charged 1-fixed" in str(replayed["output"])

    # The other two at once, on the latest version.
    page.locator("[data-testid=select-all]").check()
    assert page.locator("[data-testid=dead-letter-bulk]").text_content().startswith("2 selected")
    page.select_option("[data-testid=bulk-version]", "latest")
    page.click("[data-testid=bulk-replay]")
    page.wait_for_selector("text=Replayed 2 of 2 on the latest version.")
    page.wait_for_selector("[data-testid=dead-letters-empty]")
    for execution_id in (runs[1]["id"], runs[2]["id"]):
        letter = page.request.get(f"/api/dead-letters/{by_execution[execution_id]}").json()
        assert letter["state"] == "replayed"
        assert wait_execution(page, letter["replayedExecution"])["status"] == "succeeded"
    assert page_errors.unexpected() == []


def test_a_redriven_runs_letter_reads_redriven_in_that_run_and_offers_no_replay(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": "4242"}})
    [letter] = wait_dead_letters(page, 1)
    # The run is redriven (it fails again: the card is still declined); its first letter is
    # what the redrive ran again, the new failure is the one open letter.
    api_post(page, f"/api/executions/{run['id']}/redrive", {})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(page.request.get("/api/dead-letters").json()) < 2:
        time.sleep(0.1)
    page.goto("/dead-letters/")
    page.locator("[data-testid=dead-letter-row]").first.wait_for()
    # The open list holds the new failure only; every state shows the settled letter too.
    assert page.locator("[data-testid=dead-letter-row]").count() == 1
    page.select_option("[data-testid=filter-state]", "")
    row = page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{letter['id']}']")
    row.wait_for()
    assert row.locator("[data-testid=dead-letter-state]").inner_text() == f"redriven in #{run['id']}"
    assert row.locator("[data-testid=dead-letter-replay]").count() == 0
    assert page.locator("[data-testid=dead-letter-replay]").count() == 1  # the new failure's


@pytest.mark.parametrize("width", [360, 480])
def test_on_a_phone_each_dead_letter_is_a_card_with_its_buttons_on_screen(logged_in_page: Any, page_errors: Any,
                                                                          width: int) -> None:
    """At 360 and 480 px the eleven columns made the page 860 px wide: Replay… and Discard
    were past the right edge. Under 600 px each dead letter is a card."""
    from tests.browser.test_newuser_executions_list_fit import usable

    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 760})
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": failing_workflow()})
    for card in ("4242", "0000"):
        api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": card}})
    letters = wait_dead_letters(page, 2)
    page.goto("/dead-letters/")
    rows = page.locator("[data-testid=dead-letter-row]")
    rows.first.wait_for()
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(sizes) <= width, sizes
    for test_id in ("filter-state", "filter-kind", "filter-workflow", "select-all", "bulk-version", "bulk-replay"):
        usable(page.locator(f"[data-testid={test_id}]"), width)
    for i in range(rows.count()):
        row = rows.nth(i)
        assert "declined" in row.locator("[data-testid=dead-letter-error]").inner_text()
        for test_id in ("dead-letter-check", "dead-letter-inspect", "dead-letter-replay", "dead-letter-discard"):
            usable(row.locator(f"[data-testid={test_id}]"), width)
    from tests.browser.a11y import assert_accessible
    assert_accessible(page, f"the Dead letters list at {width} px")

    # Ticked on a card, "Replay selected" replays it; Discard from a card works.
    keep, drop = letters[0]["id"], letters[1]["id"]
    usable(page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{keep}'] [data-testid=dead-letter-check]"),
           width).check()
    usable(page.locator("[data-testid=bulk-replay]"), width).click()
    page.wait_for_selector("[data-testid=dead-letter-notice]:has-text('Replayed 1 of 1')")
    usable(page.locator(f"[data-testid=dead-letter-row][data-dead-letter-id='{drop}'] [data-testid=dead-letter-discard]"),
           width).click()
    page.wait_for_selector(f"text=Dead letter #{drop} discarded.")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert page_errors.unexpected() == []
