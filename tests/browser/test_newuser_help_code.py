"""The node panel's help texts, in Chromium.

Node types describe their options with code spans (`duration`, `{{input.waitMs}}`), as
docs/node-types.md does. The panel showed the backticks as typed: "Waits `duration`
milliseconds". It now shows them as code, without the backticks.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_delay_panel_shows_code_as_code(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Help")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click("[data-testid=palette-delay]")
    page.wait_for_selector("[data-testid=node-panel-id]:has-text('delay')")
    text = page.evaluate("() => [...document.querySelectorAll('.fm-help')].map(e => e.textContent).join('\\n')")
    assert "Waits duration milliseconds" in text
    assert "`" not in text
    codes = page.evaluate("() => [...document.querySelectorAll('.fm-help code')].map(e => e.textContent)")
    assert "duration" in codes and "{{input.waitMs}}" in codes
    assert page_errors.unexpected() == []
