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
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.browser.conftest import ARTIFACTS, ROOT, SERVER_START_TIMEOUT_S, PageErrors, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.own_server, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(300)]

ITEMS = 30
CONCURRENCY = 5
ITEM_DELAY_MS = 400
STATUS = "[data-testid=execution-status]"
STREAM_STATE = "[data-testid=stream-state]"
BODY_BAR = "[data-testid=timeline-bar][data-node-id='work']"
# Generous: another full test run shares the machine's two cores.
UI_TIMEOUT_MS = 60_000
# The only console errors a server restart may cause: the page's websocket failing to
# reconnect while nothing listens on the port (Chromium logs each failed attempt).
RESTART_ERRORS = ("WebSocket connection to 'ws://127.0.0.1:",)

LOOP_WORKFLOW: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "Approve 30 orders",
    "settings": {"maxConcurrency": 10},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "loop", "type": "loop", "name": "Parallel Loop", "position": {"x": 250, "y": 0},
         "config": {"loopType": "forEach", "arrayPath": "{{input.items}}", "parallel": True,
                    "maxConcurrency": CONCURRENCY, "itemVariable": "item", "outputVariable": "results"}},
        {"id": "work", "type": "delay", "name": "Work", "parentId": "loop", "position": {"x": 40, "y": 60},
         "config": {"duration": ITEM_DELAY_MS}},
        {"id": "result", "type": "output", "name": "Result", "position": {"x": 600, "y": 0},
         "config": {"value": "{{signal}}"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "loop"},
              {"id": "e2", "source": "loop", "target": "result"}],
}


class RestartableServer:
    """daphne serving the app (engine in-process) on one fixed port, stoppable and restartable.

    Started exactly like conftest's `live_server_url` (same environment), so the browser sees
    the same app; the port is kept across restarts so the open page can reconnect to it.
    """

    def __init__(self, log_path: Path) -> None:
        db_path = Path(str(settings.DATABASES["default"]["NAME"])).resolve()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "DJANGO_DEBUG": "0",
            "FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "1",
            "FLOWMAESTRO_STALE_AFTER": "600",
            "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must keep Django's safety check
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None, "already running"
        daphne = Path(sys.executable).with_name("daphne")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts} on port {self.port} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "flowmaestro.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                pytest.fail(f"daphne exited with {code}; see {self.log_path}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"daphne did not answer within {SERVER_START_TIMEOUT_S:.0f} s; see {self.log_path}",
                            pytrace=False)
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM and wait, as an operator restarting the service would (the engine drains)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_server(transactional_db: None, frontend_built: Path) -> Iterator[RestartableServer]:
    # Depends on `transactional_db`, so it is stopped before the tables are flushed.
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "daphne-pause-restart-resume.log"
    log_path.write_bytes(b"")
    server = RestartableServer(log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page_on_own_server(
    request: pytest.FixtureRequest, browser: Any, own_server: RestartableServer, page_errors: PageErrors
) -> Iterator[Any]:
    """A new user logged in through the real login form of our own server (as `logged_in_page`)."""
    from django.contrib.auth import get_user_model

    username, password = "robin", "robin-password-1"
    get_user_model().objects.create_user(username=username, password=password)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=own_server.url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda msg: page_errors.messages.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.messages.append(f"pageerror: {exc}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/workflows/")
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)
            (ARTIFACTS / f"{safe}.console.txt").write_text("\n".join(page_errors.messages), encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the real failure
            sys.stderr.write(f"could not save a screenshot: {exc}\n")
    context.close()


def api_get(page: Any, path: str) -> Any:
    response = page.request.get(path)
    assert response.ok, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def api_post(page: Any, path: str, body: Any) -> Any:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(path, data=json.dumps(body),
                                 headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert response.ok, f"POST {path}: {response.status} {response.text()}"
    return response.json()


def wait_for_status(page: Any, status: str, timeout: float = UI_TIMEOUT_MS) -> None:
    page.wait_for_function("([s, want]) => document.querySelector(s)?.textContent === want",
                           arg=[STATUS, status], timeout=timeout)


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
    page_on_own_server: Any, own_server: RestartableServer, page_errors: PageErrors
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
    wait_for_status(page, "paused")
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
    wait_for_status(page, "succeeded")
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
