"""Every page works under the Content-Security-Policy (issue 12), in a real Chromium: the
policy is enforced (not report-only), scripts get no inline or eval allowance, and no page
— the login form, the workflow list, the editor with its React Flow canvas, the executions
list, a timeline, the dead letters and Django's admin — reports a single violation while
it renders and is used."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.browser.helpers import api_post, save_failure_artifacts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before the page's own scripts (Playwright injects it through the
# DevTools protocol, which the page's CSP does not govern).
COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""

WORKFLOW = {
    "schemaVersion": 1,
    "name": "Charge cards",
    "settings": {"queue": {"deadLetterQueue": True}},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "a", "type": "set", "name": "A", "position": {"x": 500, "y": -80}, "config": {"values": {"a": 1}}},
        {"id": "charge", "type": "fail", "name": "Charge", "position": {"x": 500, "y": 80},
         "config": {"message": "card {{input.card}} declined"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "a"},
        {"id": "e2", "source": "start", "target": "charge"},
    ],
}


class Violations:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda msg: self.console.append(msg.text)
                if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text else None)

    def collected(self) -> list[str]:
        """What the page reported since it loaded, plus CSP errors on the console."""
        events = self.page.evaluate("window.__csp || []")
        return events + self.console


@pytest.fixture
def staff_page(request: pytest.FixtureRequest, browser: Any, live_server_url: str, transactional_db: None) -> Any:
    get_user_model().objects.create_superuser(username="csp-staff", password="csp-staff-password-1",
                                              email="staff@example.com")
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server_url)
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    save_failure_artifacts(request, page, SimpleNamespace(messages=[]))
    context.close()


def visit(page: Any, violations: Violations, path: str, ready: str) -> dict[str, str]:
    """Open `path`, wait until `ready` shows (the page rendered) and the network is quiet;
    returns the response headers."""
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    assert violations.collected() == [], path
    return response.all_headers()


def test_every_page_works_under_the_policy_without_violations(staff_page: Any, live_server_url: str):
    page = staff_page
    violations = Violations(page)

    # Login: the form page with its nonce'd <style>, then a real login through it.
    headers = visit(page, violations, "/accounts/login/", "[data-testid=login-submit]")
    policy = headers["content-security-policy"]
    assert "content-security-policy-report-only" not in headers  # enforced
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"  # no inline scripts, no eval
    assert "'unsafe-inline'" not in directives["style-src"] and "'nonce-" in directives["style-src"]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert page.evaluate("getComputedStyle(document.querySelector('.fm-login')).borderRadius") == "10px"
    page.fill("#id_username", "csp-staff")
    page.fill("#id_password", "csp-staff-password-1")
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/workflows/")

    # A workflow and a failed run (a timeline with bars, a dead letter), through the API.
    workflow = api_post(page, "/api/workflows", {"name": "Charge cards", "definition": WORKFLOW})
    run = api_post(page, f"/api/workflows/{workflow['id']}/run", {"input": {"card": "4242"}})
    deadline = time.monotonic() + 20
    while not page.request.get("/api/dead-letters?state=open").json():
        assert time.monotonic() < deadline, "the run never became a dead letter"
        time.sleep(0.1)

    # The app shell's nonce'd <style> applies (a blocked one would leave the nav unstyled).
    visit(page, violations, "/workflows/", "[data-testid=workflow-table]")
    assert page.evaluate("getComputedStyle(document.querySelector('.fm-nav')).display") == "flex"

    # The editor: React Flow places nodes with style attributes (style-src-attr).
    visit(page, violations, f"/workflows/{workflow['id']}/", ".react-flow__node[data-id='charge']")
    node = page.locator(".react-flow__node[data-id='charge']")
    assert "translate(" in (node.get_attribute("style") or "")
    node.click()
    page.wait_for_selector("[data-testid=node-panel]")
    page.click("[data-testid=auto-layout]")
    page.click("[data-testid=open-settings]")
    page.wait_for_selector("[data-testid=settings-panel]")
    page.click("[data-testid=open-help]")
    page.wait_for_selector("[data-testid=help-overlay]")
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert violations.collected() == [], "editor interactions"

    visit(page, violations, "/executions/", "[data-testid=execution-row]")
    visit(page, violations, f"/executions/{run['id']}/", "[data-testid=timeline-bar]")
    page.locator("[data-testid=timeline-bar]").first.hover()
    page.wait_for_selector("[data-testid=bar-tooltip]")
    assert violations.collected() == [], "timeline tooltip"

    visit(page, violations, "/dead-letters/", "[data-testid=dead-letter-row]")
    page.click("[data-testid=dead-letter-inspect]")
    page.wait_for_selector("[data-testid=dead-letter-detail]")
    assert violations.collected() == [], "dead letter detail"

    # Django's admin: index, a list with filters, a change page, an add form (its widgets).
    visit(page, violations, "/admin/", "#content")
    visit(page, violations, "/admin/engine/execution/", "#result_list")
    visit(page, violations, f"/admin/engine/execution/{run['id']}/change/", "#content-main")
    visit(page, violations, "/admin/auth/user/add/", "#user_form")
    visit(page, violations, f"/admin/editor/workflow/{workflow['id']}/change/", "#content-main")


def test_the_collector_sees_a_violation(staff_page: Any):
    """The check above can fail: an inline script on one of our pages is blocked and reported."""
    page = staff_page
    violations = Violations(page)
    page.goto("/accounts/login/")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__ran = true'; document.body.appendChild(s); }""")
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__ran === undefined")
    assert any("script-src" in v for v in violations.collected())
