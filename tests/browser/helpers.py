"""What the browser tests share: the API as the logged-in page calls it, logging in through
the real form, a failed test's screenshot, and daphne serving the app on the test database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_TIMEOUT_S = 60.0
STATUS = "[data-testid=execution-status]"


# -- the API, as the page's session sees it ------------------------------------------------
def api_get(page: Any, path: str) -> Any:
    response = page.request.get(path)
    assert response.ok, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def api_post(page: Any, path: str, body: Any) -> Any:
    """POST as the logged-in user (session cookie + CSRF header), like the editor does."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(path, data=json.dumps(body),
                                 headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert response.ok, f"POST {path}: {response.status} {response.text()}"
    return response.json()


def api_put(page: Any, path: str, body: Any) -> Any:
    """PUT as the logged-in user (session cookie + CSRF header), like the editor does."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.put(path, data=json.dumps(body),
                                headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert response.ok, f"PUT {path}: {response.status} {response.text()}"
    return response.json()


def api_wait_finished(page: Any, execution_id: int, timeout_s: float = 20) -> dict[str, Any]:
    """The execution, through the API, once it has ended (any final status)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = api_get(page, f"/api/executions/{execution_id}")
        if body["status"] in ("succeeded", "failed", "cancelled", "timed_out"):
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not finish")


def wait_for_status(page: Any, status: str, timeout: float = 20_000) -> None:
    """Until the execution page's status badge reads `status`."""
    page.wait_for_function("([s, want]) => document.querySelector(s)?.textContent === want",
                           arg=[STATUS, status], timeout=timeout)


# -- workflows -------------------------------------------------------------------------------
def loop_definition(concurrency: int, duration_ms: int) -> dict[str, Any]:
    """start → a parallel loop over `input.items` whose body is one `delay` (node id `work`)."""
    return {
        "schemaVersion": 1,
        "name": "Loop",
        "settings": {"maxConcurrency": 20},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "loop", "type": "loop", "name": "Parallel Loop", "position": {"x": 250, "y": 0},
             "config": {"loopType": "forEach", "arrayPath": "{{input.items}}", "parallel": True,
                        "maxConcurrency": concurrency, "itemVariable": "item", "outputVariable": "results"}},
            {"id": "work", "type": "delay", "name": "Work", "parentId": "loop", "position": {"x": 40, "y": 60},
             "config": {"duration": duration_ms}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "loop"}],
    }


# An approval between start and output: runs pause at `sign_off` until someone decides.
APPROVAL = {
    "schemaVersion": 1,
    "name": "Refund",
    "settings": {},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "sign_off", "type": "approval", "name": "Manager sign-off", "position": {"x": 250, "y": 0},
         "config": {"message": "Refund over 500 EUR"}},
        {"id": "result", "type": "output", "name": "Decision", "position": {"x": 500, "y": 0},
         "config": {"value": "{{sign_off}}"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "sign_off"},
        {"id": "e2", "source": "sign_off", "target": "result"},
    ],
}


def fan_out(duration_ms: int, layer_x: int = 250) -> dict[str, Any]:
    """The seed's fan-out: start → three branches → merge, its layers `layer_x` apart (the
    demo workflows' 300+ leaves room for the branch names between them)."""
    return {
        "schemaVersion": 1,
        "name": "Fan-out",
        "settings": {"maxConcurrency": 10},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 150}, "config": {}},
            *[
                {"id": f"process_{i}", "type": "delay", "name": f"Process {i}", "position": {"x": layer_x, "y": i * 120},
                 "config": {"duration": duration_ms}}
                for i in (1, 2, 3)
            ],
            {"id": "aggregate", "type": "merge", "name": "Aggregate", "position": {"x": 2 * layer_x, "y": 150},
             "config": {}},
        ],
        "edges": [
            *[{"id": f"out{i}", "source": "start", "target": f"process_{i}"} for i in (1, 2, 3)],
            *[{"id": f"in{i}", "source": f"process_{i}", "target": "aggregate"} for i in (1, 2, 3)],
        ],
    }


def rate_limited_loop(base_url: str, items_per_second: int) -> dict[str, Any]:
    """A profile call per item, rate-limited; unknown users fail and the loop continues."""
    return {
        "schemaVersion": 1, "name": "Rated loop", "settings": {"maxConcurrency": 20},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "loop", "type": "loop", "name": "Fetch profiles", "position": {"x": 250, "y": 0},
             "config": {"arrayPath": "{{input.items}}", "itemVariable": "item", "maxConcurrency": 10,
                        "rateLimit": items_per_second, "parallel": {"onPartialFailure": "continue"}}},
            {"id": "fetch", "type": "http", "name": "Profile", "parentId": "loop", "position": {"x": 20, "y": 60},
             "config": {"method": "GET", "url": base_url + "/demo-api/users/{{item}}/profile?latency=600"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "loop"}],
    }


# -- a logged-in page ---------------------------------------------------------------------
def log_in(browser: Any, base_url: str, page_errors: Any, username: str, password: str,
           timeout_ms: int = 15_000) -> tuple[Any, Any]:
    """A new user, a new browser context, and a login through the real login form; console
    errors and uncaught exceptions go to `page_errors`. Returns (context, page)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username=username, password=password)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.on("console", lambda msg: page_errors.messages.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.messages.append(f"pageerror: {exc}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/workflows/")
    return context, page


def save_failure_artifacts(request: pytest.FixtureRequest, page: Any, page_errors: Any) -> None:
    """A failed test leaves its page's screenshot and console errors in test-artifacts/."""
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)
        (ARTIFACTS / f"{safe}.console.txt").write_text("\n".join(page_errors.messages), encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the real failure
        sys.stderr.write(f"could not save a screenshot: {exc}\n")


# -- daphne on the test database ------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaphneServer:
    """The app (engine in-process) served by daphne on a fixed port, pointed at the test
    database so that everything a test commits is visible to it. It can be stopped
    (SIGTERM: the engine drains, as when an operator restarts the service) and started
    again on the same port, so an open page can reconnect."""

    def __init__(self, database_url: str, log_path: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "1",
            "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must keep Django's safety check
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None, "already running"
        daphne = Path(sys.executable).with_name("daphne")
        self.starts += 1
        ARTIFACTS.mkdir(exist_ok=True)
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
