"""A problem's words do not change under the user's eyes, in Chromium.

A new user who added an HTTP Request read "HTTP Request: url is required" in the problems
list (the editor's instant check), and a second later "HTTP Request: URL: is required (it is
empty)" in its place (the server's check, which names fields by their form labels). The
instant check now says it in the server's words, labelled the same way: the first text
shown is the labelled one, and the server's answer leaves it as it is. The same holds for a
required field the user clears: one problem, in the same words before and after.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START_ONLY = {
    "schemaVersion": 1, "name": "Fetch", "settings": {},
    "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}}],
    "edges": [],
}

# Every distinct text of the problems list's error lines, in the order they were shown.
RECORD = """
window.__shown = [];
new MutationObserver(() => {
  const lines = [...document.querySelectorAll("[data-testid=issues] li.fm-issue-error")].map((li) => li.textContent);
  const text = lines.join(" | ");
  if (text && window.__shown[window.__shown.length - 1] !== text) window.__shown.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def shown_after_the_server_answers(page: Any, change: Any) -> list[str]:
    """The texts the problems list showed from `change` until after the server's check of it."""
    page.evaluate("window.__shown = []")
    with page.expect_response(lambda r: "/validate" in r.url and r.request.method == "POST", timeout=10_000):
        change()
    page.wait_for_timeout(600)  # the answer is rendered
    return list(page.evaluate("window.__shown"))


def test_a_new_http_requests_problem_reads_the_same_before_and_after_the_servers_check(
        logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.add_init_script(RECORD)
    workflow = api_post(page, "/api/workflows", {"name": "Fetch", "definition": START_ONLY})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.wait_for_selector("[data-testid=issues] .fm-ok")
    page.wait_for_timeout(1_500)  # the page's own first check is over

    shown = shown_after_the_server_answers(page, lambda: page.click("[data-testid=palette-http]"))
    assert shown, "no problem was shown"
    assert "URL: is required" in shown[0] and "url is required" not in shown[0], shown
    assert shown == shown[:1], f"the problem's text changed: {shown}"

    # The user fills the URL in and clears it again: the same words again, and only once.
    field = page.locator("[data-testid^=field-][data-testid$=url]").first
    field.click()
    page.keyboard.type("https://example.com/orders")
    page.wait_for_function("() => !document.querySelector('[data-testid=issues]').textContent.includes('is required')",
                           timeout=10_000)
    page.wait_for_timeout(1_500)

    def clear() -> None:
        field.click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Backspace")

    shown = shown_after_the_server_answers(page, clear)
    assert shown and "URL: is required" in shown[0], shown
    assert shown == shown[:1], f"the problem's text changed: {shown}"
    assert page_errors.unexpected() == []
