"""Issue 6's "not done until", in a real Chromium: pause a parallel loop, restart the server,
resume it with data, watch it finish.

"A person runs a 30-item parallel loop from the editor, presses Pause on the timeline, sees
bars stop starting, restarts the server, presses Resume with {"approved": true}, and watches
it finish."

The test needs a server it can restart, so it starts its OWN daphne (the engine runs inside
it, as with `make run`) instead of the session server of conftest.py, and restarts it on the
same port while the browser page stays open. Why the assertions are about what the page and
the API show, and not about which engine ran what: if another browser test ran earlier in the
same pytest session, the session daphne is alive on the same test database, and its engine
may claim this execution (a queued run is claimable by any engine, and an engine that stops
gracefully releases its executions to be taken over at once). Whatever engine runs it, the
user must see the same thing, and that is what is asserted. `FLOWMAESTRO_STALE_AFTER` is set
large on our server so that its engine never takes over the session server's runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PageErrors
from tests.browser.helpers import (
    ARTIFACTS,
    STATUS,
    DaphneServer,
    api_get,
    api_post,
    log_in,
    loop_definition,
    save_failure_artifacts,
    wait_for_status,
)
from tests.pg import current_database_url

pytestmark = [pytest.mark.browser, pytest.mark.own_server, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(300)]

ITEMS = 30
CONCURRENCY = 5
ITEM_DELAY_MS = 400
STREAM_STATE = "[data-testid=stream-state]"
BODY_BAR = "[data-testid=timeline-bar][data-node-id='work']"
# Generous: another full test run shares the machine's two cores.
UI_TIMEOUT_MS = 60_000
# The only console errors a server restart may cause: the page's websocket failing to
# reconnect while nothing listens on the port (Chromium logs each failed attempt).
RESTART_ERRORS = ("WebSocket connection to 'ws://127.0.0.1:",)

# The timeline tests' loop, with its result: the data of the resume signal.
LOOP_WORKFLOW: dict[str, Any] = loop_definition(CONCURRENCY, ITEM_DELAY_MS)
LOOP_WORKFLOW["name"] = "Approve 30 orders"
LOOP_WORKFLOW["nodes"].append({"id": "result", "type": "output", "name": "Result", "position": {"x": 600, "y": 0},
                               "config": {"value": "{{signal}}"}})
LOOP_WORKFLOW["edges"].append({"id": "e2", "source": "loop", "target": "result"})


@pytest.fixture
def own_server(transactional_db: None, frontend_built: Path) -> Iterator[DaphneServer]:
    # Depends on `transactional_db`, so it is stopped before the tables are flushed.
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "daphne-pause-restart-resume.log"
    log_path.write_bytes(b"")
    server = DaphneServer(current_database_url(), log_path, FLOWMAESTRO_STALE_AFTER="600")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page_on_own_server(
    request: pytest.FixtureRequest, browser: Any, own_server: DaphneServer, page_errors: PageErrors
) -> Iterator[Any]:
    """A new user logged in through the real login form of our own server (as `logged_in_page`)."""
    context, page = log_in(browser, own_server.url, page_errors, "robin", "robin-password-1", timeout_ms=30_000)
    yield page
    save_failure_artifacts(request, page, page_errors)
    context.close()


def body_runs(page: Any, execution_id: str) -> list[dict[str, Any]]:
    execution = api_get(page, f"/api/executions/{execution_id}")
    return [r for r in execution["nodeRuns"] if r["nodeId"] == "work"]


def started(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r["startedAt"]]


def run_from_the_editor(page: Any, workflow_id: int, run_input: dict[str, Any]) -> str:
    """Open the workflow in the editor, run it through the Run dialog, open its timeline."""
    page.goto(f"/workflows/{workflow_id}/")
    page.wait_for_selector("[data-testid=editor]")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-dialog]")
    page.click("[data-testid=run-input] .cm-content")
    page.keyboard.press("Control+a")
    # Pasted rather than typed: the code editor closes brackets and quotes as one types.
    page.keyboard.insert_text(json.dumps(run_input))
    page.click("[data-testid=run-submit]")
    link = page.wait_for_selector("[data-testid=execution-link]")
    href = link.get_attribute("href")
    assert href and href.startswith("/executions/"), href
    link.click()
    page.wait_for_url(f"**{href}")
    return href.strip("/").split("/")[-1]


def test_pause_a_parallel_loop_restart_the_server_resume_with_data(
    page_on_own_server: Any, own_server: DaphneServer, page_errors: PageErrors
) -> None:
    page = page_on_own_server
    workflow = api_post(page, "/api/workflows", {"name": LOOP_WORKFLOW["name"], "definition": LOOP_WORKFLOW})

    # Run 30 items from the editor and open the live timeline.
    execution_id = run_from_the_editor(page, workflow["id"], {"items": list(range(ITEMS))})
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector(BODY_BAR, timeout=UI_TIMEOUT_MS)
    assert page.text_content(STATUS) == "running", "the run finished before Pause could be pressed"

    # Pause: the page says so, and from then on no item starts.
    page.click("[data-testid=signal-pause]")
    wait_for_status(page, "paused", UI_TIMEOUT_MS)
    page.wait_for_selector("[data-testid=signal-resume]")
    assert api_get(page, f"/api/executions/{execution_id}")["status"] == "paused"
    started_at_pause = len(started(body_runs(page, execution_id)))
    assert 0 < started_at_pause < ITEMS, started_at_pause
    time.sleep(1.5)
    runs = body_runs(page, execution_id)
    assert len(started(runs)) == started_at_pause, "body node runs kept starting after the pause"
    # Items that were running at the pause finish (pause without cleanup) and keep their results.
    page.wait_for_function(
        """async (id) => {
             const r = await fetch(`/api/executions/${id}`);
             const runs = (await r.json()).nodeRuns.filter((n) => n.nodeId === "work");
             return runs.every((n) => !["queued", "running", "retrying"].includes(n.status) || !n.startedAt);
           }""",
        arg=execution_id, polling=250, timeout=UI_TIMEOUT_MS,
    )
    # What the page draws agrees: no more item bars than item runs that started.
    bars_at_pause = page.locator(BODY_BAR).count()
    assert 0 < bars_at_pause <= started_at_pause + CONCURRENCY, (bars_at_pause, started_at_pause)
    assert page_errors.unexpected() == []

    # Restart the server under the open page. While it is down the page says it is reconnecting.
    errors_before_restart = len(page_errors.messages)
    own_server.stop()
    page.wait_for_function("s => document.querySelector(s)?.textContent === 'reconnecting'", arg=STREAM_STATE,
                           timeout=UI_TIMEOUT_MS)
    own_server.start()
    # The page reconnects by itself (its websocket retries with back-off), no reload needed.
    page.wait_for_function("s => document.querySelector(s)?.textContent === '● live'", arg=STREAM_STATE,
                           timeout=UI_TIMEOUT_MS)
    errors_during_restart = page_errors.messages[errors_before_restart:]
    assert all(any(allowed in m for allowed in RESTART_ERRORS) for m in errors_during_restart), errors_during_restart
    errors_after_restart = len(page_errors.messages)
    assert page.evaluate("window.__sameDocument") is True
    assert page.text_content(STATUS) == "paused"
    assert api_get(page, f"/api/executions/{execution_id}")["status"] == "paused"
    # Still paused after the restarted engine is up: nothing started on its own.
    time.sleep(1.5)
    assert len(started(body_runs(page, execution_id))) == started_at_pause
    assert page.text_content(STATUS) == "paused"

    # Resume with {"approved": true} through the JSON dialog; the page follows to the end.
    page.click("[data-testid=signal-resume]")
    page.fill("[data-testid=resume-data]", '{"approved": true}')
    page.click("[data-testid=resume-send]")
    wait_for_status(page, "succeeded", UI_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length >= n", arg=[BODY_BAR, ITEMS],
                           timeout=UI_TIMEOUT_MS)
    signal_log = page.inner_text("[data-testid=signals]")
    assert "pause" in signal_log and "resume" in signal_log, signal_log

    execution = api_get(page, f"/api/executions/{execution_id}")
    assert execution["status"] == "succeeded", execution["error"]
    assert execution["output"] == {"Result": {"approved": True}}, execution["output"]
    runs = [r for r in execution["nodeRuns"] if r["nodeId"] == "work"]
    succeeded = [r for r in runs if r["status"] == "succeeded"]
    assert sorted({r["iteration"] for r in succeeded}) == list(range(ITEMS))
    # Each item succeeded once, and nothing of an item ran again after it had succeeded.
    for iteration in range(ITEMS):
        item_runs = [r for r in runs if r["iteration"] == iteration]
        done = [r for r in item_runs if r["status"] == "succeeded"]
        assert len(done) == 1, (iteration, item_runs)
        later = [r for r in item_runs if r is not done[0] and r["startedAt"] and r["startedAt"] >= done[0]["finishedAt"]]
        assert later == [], (iteration, item_runs)
    assert page_errors.messages[errors_after_restart:] == []
