"""Undo after typing into a field, in Chromium.

Every keystroke in a node's field (or the workflow's name) was its own undo step: after
typing a 4-digit duration, Undo went back one digit at a time ("2500" → "250" → "25"…),
where n8n and every text editor take back the whole burst of typing. Consecutive edits
of the same field now make one step; a different field or node starts a new one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import open_node
from tests.browser.helpers import api_post, fan_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def summary(page: Any, node_id: str) -> str:
    return str(page.inner_text(f".react-flow__node[data-id='{node_id}']")).replace("\n", " ")


def test_one_undo_takes_back_a_burst_of_typing_in_one_field(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Undo", "definition": fan_out(100)})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='aggregate']")

    open_node(page, "process_1")
    page.click("[data-testid=field-duration]")
    page.keyboard.press("Control+a")
    page.keyboard.type("2500")
    page.wait_for_function("() => document.querySelector(\".react-flow__node[data-id='process_2']\") !== null")
    assert "delay · 2500 ms" in summary(page, "process_1")
    # Then another node's field: its own step.
    open_node(page, "process_2")
    page.click("[data-testid=field-duration]")
    page.keyboard.press("Control+a")
    page.keyboard.type("750")
    assert "delay · 750 ms" in summary(page, "process_2")

    page.click("[data-testid=undo]")
    page.wait_for_function("() => document.querySelector(\".react-flow__node[data-id='process_2']\").textContent.includes('100 ms')")
    assert "delay · 2500 ms" in summary(page, "process_1")
    page.click("[data-testid=undo]")
    page.wait_for_function("() => document.querySelector(\".react-flow__node[data-id='process_1']\").textContent.includes('100 ms')")
    assert page.locator("[data-testid=undo]").is_disabled()
    page.click("[data-testid=redo]")
    page.wait_for_function("() => document.querySelector(\".react-flow__node[data-id='process_1']\").textContent.includes('2500 ms')")

    # The workflow's name: one step too.
    page.click("[data-testid=workflow-title]")
    page.keyboard.press("End")
    page.keyboard.type(" v2")
    assert page.input_value("[data-testid=workflow-title]").endswith(" v2")
    page.click("[data-testid=undo]")
    # The title is the workflow's name ("Undo"), not its definition's ("Fan-out"): one name.
    page.wait_for_function("() => document.querySelector('[data-testid=workflow-title]').value === 'Undo'")
    assert page_errors.unexpected() == []
