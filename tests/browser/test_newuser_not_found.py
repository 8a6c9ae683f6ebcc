"""A stale or mistyped link to a page (a deleted workflow, another user's run), in
Chromium: the 404 page keeps the app's navigation and says where to go, instead of
Django's bare "Not Found" text with no way back but the address bar."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("path", ["/workflows/99999/", "/executions/99999/", "/no-such-page/"])
def test_a_missing_page_keeps_the_navigation_and_links_back(logged_in_page: Any, path: str) -> None:
    page = logged_in_page
    response = page.goto(path)
    assert response is not None and response.status == 404
    page.wait_for_selector("[data-testid=main-nav]")
    assert page.locator("[data-testid=nav-user]").inner_text() == "casey"
    heading = page.inner_text("h1")
    assert "not found" in heading.lower(), heading
    page.click("[data-testid=not-found-back]")
    page.wait_for_url("**/workflows/")


def test_the_api_still_answers_json_404(logged_in_page: Any) -> None:
    response = logged_in_page.request.get("/api/workflows/99999")
    assert response.status == 404
    assert response.headers["content-type"].startswith("application/json")
