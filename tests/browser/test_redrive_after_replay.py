"""On a run's page, "Redrive failed" after one of its loop items was replayed from the Dead
letters page: the button counts only the items that can be redriven, says which were
replayed (with links to those runs) and are left out, and pressing it redrives the others —
before, it still counted the replayed item and pressing it ended in the server's 409. When
every failed item was replayed, the button is disabled with that reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, api_put, api_wait_finished, wait_for_status
from tests.engine.definitions import loop_definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def _orders(failing: str) -> dict[str, Any]:
    d = loop_definition({"queue": {"deadLetterQueue": True}},
                        [{"id": "charge", "type": "transform", "name": "Charge",
                          "config": {"operation": "custom",
                                     "expression": f"if ({failing}) {{ throw new Error('card declined') }} return item"}}])
    d["nodes"][1]["name"] = "Each order"
    for i, node in enumerate(d["nodes"]):
        node.setdefault("position", {"x": 200 * i, "y": 0})
    return d


def _failed_run_with_replays(page: Any, failing: str, replayed: list[int]) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """A run of [1, 2, 3] whose items `failing` failed, and the given item indexes replayed
    from their dead letters (with an input that passes) until they succeeded."""
    workflow = api_post(page, "/api/workflows", {"name": "Orders", "definition": _orders(failing)})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"items": [1, 2, 3]}})
    assert api_wait_finished(page, run["id"])["status"] == "failed"
    replays = []
    for index in replayed:
        [letter] = [x for x in api_get(page, f"/api/dead-letters?execution={run['id']}") if x["itemIndex"] == index]
        replay = api_post(page, f"/api/dead-letters/{letter['id']}/replay", {"input": 20})
        assert api_wait_finished(page, replay["id"])["status"] == "succeeded"
        replays.append(int(replay["id"]))
    return workflow, run, replays


def _redriven_once(page: Any, execution_id: int) -> dict[str, Any]:
    """The execution once its first redrive has ended (as the page's session reads it)."""
    page.wait_for_function(
        """async (id) => { const r = await (await fetch(`/api/executions/${id}`)).json();
                           return r.redrives === 1 && ["succeeded", "failed"].includes(r.status); }""",
        arg=execution_id, polling=200, timeout=30_000)
    body = dict(api_get(page, f"/api/executions/{execution_id}"))
    if body.get("status") not in ("succeeded", "failed") or body.get("redrives") != 1:
        # Seen once in CI's PostgreSQL pass (and locally): the page's read said ended, this
        # next read did not. Everything needed to tell a second redrive from a late status
        # write, for whoever meets it next.
        events = api_get(page, f"/api/executions/{execution_id}/events?afterSeq=0&limit=1000")
        tail = [(e.get("seq"), e.get("type"), e.get("nodeId"), e.get("ts")) for e in (events.get("results", events)
                                                                                     if isinstance(events, dict) else events)][-40:]
        raise AssertionError(f"ended for the page, then {body.get('status')!r} with redrives={body.get('redrives')!r}, "
                             f"redrivenAt={body.get('redrivenAt')!r}, finishedAt={body.get('finishedAt')!r}; "
                             f"last events: {tail}")
    return body


def test_redrive_failed_leaves_out_the_replayed_item_and_succeeds(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    # Items 2 and 3 (indexes 1 and 2) fail; item index 1 is replayed and succeeds as its own run.
    workflow, run, [replay] = _failed_run_with_replays(page, "item === 2 || item === 3", [1])

    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    button = page.locator("[data-testid=redrive-failed]")
    assert button.inner_text() == "Redrive failed (1 item)"  # not 2: the replayed one is left out
    note = page.locator("[data-testid=redrive-left-out]")
    assert note.inner_text() == f"1 item was replayed as #{replay} and is left out."
    assert note.locator("a").get_attribute("href") == f"/executions/{replay}/"

    # Item 3 is fixed in a new version; the redrive runs it there, and only it.
    api_put(page, f"/api/workflows/{workflow['id']}", {"name": "Orders", "definition": _orders("false")})
    button.click()
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")
    page.locator("[data-testid=redrive-dialog]").wait_for(state="detached")  # accepted (a refusal keeps it open)
    done = _redriven_once(page, run["id"])
    # Under the loop's default onPartialFailure "fail" too: the replayed item's old failure
    # is not this run's any more.
    assert done["status"] == "succeeded", done
    assert done["output"]["o"] == [1, {"replayedAs": replay}, 3]
    page.reload()
    wait_for_status(page, "succeeded")
    assert page.locator("[data-testid=redrive-error]").count() == 0
    assert page_errors.unexpected() == []


def test_redrive_failed_is_disabled_when_every_failed_item_was_replayed(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    _, run, [replay] = _failed_run_with_replays(page, "item === 2", [1])

    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "failed")
    button = page.locator("[data-testid=redrive-failed]")
    button.wait_for()
    assert button.is_disabled()
    assert page.locator("[data-testid=redrive-left-out]").inner_text() \
        == f"Nothing left to redrive: 1 item was replayed as #{replay}."
    assert button.get_attribute("title") == f"Nothing left to redrive: 1 item was replayed as #{replay}."
    assert api_get(page, f"/api/executions/{run['id']}")["status"] == "failed"  # nothing ran
    assert page_errors.unexpected() == []


def test_a_rows_redrive_in_the_executions_list_leaves_out_the_replayed_item(logged_in_page: Any, page_errors: Any) -> None:
    """The Executions list's "Redrive failed" on the same run: it used to send no selection
    and met the server's 409 (shown above the list) as soon as one item had been replayed.
    After the redrive the run's own count leaves the replayed item out: no button is left."""
    page = logged_in_page
    workflow, run, [replay] = _failed_run_with_replays(page, "item === 2 || item === 3", [1])
    api_put(page, f"/api/workflows/{workflow['id']}", {"name": "Orders", "definition": _orders("false")})

    page.goto("/executions/")
    row = page.locator(f"[data-testid=execution-row][data-execution-id='{run['id']}']")
    row.locator("[data-testid=row-redrive]").click()
    page.click("[data-testid=redrive-version-latest]")
    page.click("[data-testid=redrive-confirm]")
    done = _redriven_once(page, run["id"])
    assert done["status"] == "succeeded", done
    assert done["output"]["o"] == [1, {"replayedAs": replay}, 3]
    assert (done["failedItems"], done["failedNodes"]) == (0, 0)
    assert page.locator(".fm-banner-error").count() == 0  # no 409 shown above the list
    page.reload()
    row.wait_for()
    assert row.locator("[data-testid=row-redrive]").count() == 0
    assert page_errors.unexpected() == []
