"""Browser-test fixtures: the real app served by daphne, driven by the system Chromium.
A plugin of tests/conftest.py (`pytest_plugins`), so that browser tests outside
tests/browser (tests/security/test_csp.py) share the one Chromium and the one server:
Playwright's sync API cannot run twice at once in a process.

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
- `logged_in_page` (tests/browser/conftest.py) is per test: a new user, a new browser
  context, and a login through the real login form.
A failing test leaves a screenshot of its page in test-artifacts/ (see the report hook).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import ARTIFACTS, ROOT, DaphneServer
from tests.pg import current_database_url

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


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    # Keep each phase's report on the item so fixtures can see at teardown whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


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
    log_path = ARTIFACTS / "daphne-browser-tests.log"
    ARTIFACTS.mkdir(exist_ok=True)
    log_path.write_bytes(b"")
    server = DaphneServer(current_database_url(), log_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions seen by a page (a user-visible defect)."""

    messages: list[str] = field(default_factory=list)

    def unexpected(self, allowed: tuple[str, ...] = ()) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


