"""Browser-test fixtures: the real app served by daphne, driven by the system Chromium.

Scopes, and why:
- `browser` is per session: launching Chromium costs ~1 s and pages are isolated by a
  fresh context per test anyway.
- `live_server_url` is per session too: daphne (Django + the in-process engine) takes a few
  seconds to start on the 2-core machine. It is started after pytest-django has created and
  migrated the test database (it depends on `django_db_setup`), and points `DATABASE_URL`
  at that same SQLite file, so everything a test commits is visible to the server. Browser
  tests therefore use `django_db(transaction=True)`: rows are really committed (not held in
  a test transaction the server cannot see) and the tables are flushed after each test, so
  tests stay independent while sharing one server. It is stopped before the test database
  is destroyed (fixtures tear down in reverse order of set-up).
- `logged_in_page` is per test: a new user, a new browser context, and a login through the
  real login form.
A failing test leaves a screenshot of its page in test-artifacts/ (see the report hook).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MANIFEST = ROOT / "static" / "dist" / ".vite" / "manifest.json"
SERVER_START_TIMEOUT_S = 60.0


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    # Keep each phase's report on the item so fixtures can see at teardown whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def frontend_built() -> Path:
    if not MANIFEST.exists():
        pytest.fail(
            f"The front end is not built: {MANIFEST} is missing. Run `npm run build` (make test builds it first).",
            pytrace=False,
        )
    return MANIFEST


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # Never skip: under CI a missing browser is a failure (README names the apt package).
        pytest.fail(f"{CHROMIUM} not found: install the `chromium` apt package", pytrace=False)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on the main thread, which makes Django
    # refuse ORM calls ("async context"). The test code is really synchronous, so allow it
    # for as long as the browser is up (pytest-django documents this for Playwright).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def live_server_url(django_db_setup: None, frontend_built: Path) -> Iterator[str]:
    db_name = settings.DATABASES["default"]["NAME"]
    db_path = Path(str(db_name)).resolve()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "DJANGO_DEBUG": "0",
        "FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "1",
        "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must keep Django's safety check
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "daphne-browser-tests.log"
    daphne = Path(sys.executable).with_name("daphne")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "flowmaestro.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    pytest.fail(f"daphne exited with {process.returncode}; see {log_path}", pytrace=False)
                try:
                    with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"daphne did not answer within {SERVER_START_TIMEOUT_S:.0f} s; see {log_path}", pytrace=False)
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions seen by a page (a user-visible defect)."""

    messages: list[str] = field(default_factory=list)

    def unexpected(self, allowed: tuple[str, ...] = ()) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def logged_in_page(
    request: pytest.FixtureRequest, browser: Any, live_server_url: str, transactional_db: None, page_errors: PageErrors
) -> Iterator[Any]:
    from django.contrib.auth import get_user_model

    username, password = "casey", "casey-password-1"
    get_user_model().objects.create_user(username=username, password=password)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
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
        ARTIFACTS.mkdir(exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)
            (ARTIFACTS / f"{safe}.console.txt").write_text("\n".join(page_errors.messages), encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the real failure
            sys.stderr.write(f"could not save a screenshot: {exc}\n")
    context.close()
