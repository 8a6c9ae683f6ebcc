"""The OpenAPI reference as a page (`/api/docs/`): a logged-out visitor is sent to the login
page; a logged-in user sees every path rendered by Swagger UI, served by the app itself
(no CDN) under the pages' Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_reference_page_behind_login(browser: Any, live_server_url: str, logged_in_page: Any, page_errors: Any):
    anonymous = browser.new_context(base_url=live_server_url)
    try:
        page = anonymous.new_page()
        page.goto("/api/docs/")
        assert "/accounts/login/" in page.url
    finally:
        anonymous.close()

    page = logged_in_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/api/docs/")
    page.wait_for_selector("text=FlowMaestro API")
    page.get_by_text("/api/executions/{execution_id}/retry/", exact=True).first.wait_for()
    page.get_by_text("/api/workflows/{workflow_id}/run/", exact=True).first.wait_for()
    assert all(url.startswith(live_server_url) for url in requests), [u for u in requests if not u.startswith(live_server_url)]
    # Swagger UI sets a few inline styles, which the policy refuses (cosmetic); no script is refused.
    assert not [m for m in page_errors.messages if "script-src" in m], page_errors.messages
