"""A fan-out built by clicks, in Chromium: with Start selected, a new user clicks Delay three
times. The second branch went below the first and the third above it, so from top to
bottom the canvas read branch_c, branch_a, branch_b while the timeline's lanes read
branch_a, branch_b, branch_c: the top branch on the canvas was not the top lane of the run.
Branches added after a node now stack downwards, in the order they were added."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import node_box

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_branches_added_after_start_stack_top_to_bottom(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Fan-out")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    for _ in range(4):
        page.click(".react-flow__node[data-id='start'] .fm-node-name")
        page.click("[data-testid=palette-delay]")
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 4")
    ids = ["delay", "delay_2", "delay_3", "delay_4"]
    tops = [node_box(page, node_id)["y"] for node_id in ids]
    assert tops == sorted(tops) and len(set(tops)) == 4, tops
    # The wires' branch labels read branch_a … branch_d from top to bottom, like the lanes.
    labels = page.evaluate("""() => [...document.querySelectorAll('.react-flow__edgelabel-renderer *')]
        .filter((el) => /^branch_[a-d]$/.test(el.textContent.trim()) && el.children.length === 0)
        .map((el) => [el.textContent.trim(), el.getBoundingClientRect().top])""")
    by_height = [name for name, _ in sorted(labels, key=lambda pair: pair[1])]
    assert by_height == ["branch_a", "branch_b", "branch_c", "branch_d"], labels
    assert page_errors.unexpected() == []
