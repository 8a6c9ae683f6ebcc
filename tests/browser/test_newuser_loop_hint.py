"""The empty loop's hint, in Chromium.

A new Loop says "Drop nodes here to build the loop body". The hint stayed once the body had
nodes, written under them, as if the body were still missing. It now shows only while the
loop is empty.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HINT = ".react-flow__node[data-id='loop'] >> text=Drop nodes here"


def test_the_drop_hint_goes_once_the_loop_has_a_body(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Loop%20hint")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click("[data-testid=palette-loop]")
    page.wait_for_selector(".react-flow__node[data-id='loop'].selected")
    assert page.locator(HINT).is_visible()

    # A first body node (a palette click with the empty loop selected puts it inside).
    page.click("[data-testid=palette-http]")
    page.wait_for_selector(".react-flow__node[data-id='http']")
    page.wait_for_timeout(200)
    assert page.locator(HINT).count() == 0

    # Undo takes the body away again: the empty loop says what to do with it once more.
    page.keyboard.press("Control+z")
    page.wait_for_selector(".react-flow__node[data-id='http']", state="detached")
    page.wait_for_selector(HINT)
    assert page_errors.unexpected() == []
