"""Fixtures of the browser tests in this folder; the shared ones (Chromium, the daphne
server, console errors) are in tests/browser/fixtures.py, loaded by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.fixtures import PageErrors
from tests.browser.helpers import log_in, save_failure_artifacts

__all__ = ["PageErrors", "logged_in_page"]


@pytest.fixture
def logged_in_page(
    request: pytest.FixtureRequest, browser: Any, live_server_url: str, transactional_db: None, page_errors: PageErrors
) -> Iterator[Any]:
    context, page = log_in(browser, live_server_url, page_errors, "casey", "casey-password-1")
    yield page
    save_failure_artifacts(request, page, page_errors)
    context.close()
