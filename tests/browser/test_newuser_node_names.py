"""Node names on the canvas, in Chromium (a new user's pass).

Probed: three HTTP Request nodes added after Start are named "HTTP Request", "HTTP Request 2"
and "HTTP Request 3", but until configured each carries a red problem badge in its title
row, which cut the names to "HTTP Reque…": three nodes that read the same. And a name
cleared by accident (select all, delete, click away) left a blank node, saved as such:
nameless on the canvas and on the run page. Now the badge sits on the node's border and
every name is whole; an emptied name is put back when the box is left."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.canvas import open_node, save
from tests.browser.helpers import api_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_after_start(page: Any, node_type: str) -> None:
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click(f"[data-testid=palette-{node_type}]")


def test_three_new_http_nodes_show_their_whole_names_beside_their_problem_badges(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Three calls")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    for _ in range(3):
        add_after_start(page, "http")
    ids = ["http", "http_2", "http_3"]
    for node_id in ids:
        # Each has a problem (no URL yet): the badge is shown…
        page.wait_for_selector(f"[data-testid=node-error-{node_id}]")
    names = {node_id: page.inner_text(f"[data-testid=node-name-{node_id}]") for node_id in ids}
    assert names == {"http": "HTTP Request", "http_2": "HTTP Request 2", "http_3": "HTTP Request 3"}
    # …and no name is cut: what the eye sees is the whole name, so the three read apart.
    cut = [names[n] for n in ids if page.eval_on_selector(f"[data-testid=node-name-{n}]", "e => e.scrollWidth > e.clientWidth")]
    assert cut == [], f"cut on the canvas: {cut}"
    # A name too long for any node is whole in its tooltip.
    for node_id in ids:
        assert page.get_attribute(f"[data-testid=node-name-{node_id}]", "title") == names[node_id]
    assert page_errors.unexpected() == []


def test_a_cleared_node_name_is_put_back_when_the_box_is_left(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Names")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    add_after_start(page, "approval")
    open_node(page, "approval")
    page.fill("[data-testid=node-name-input]", "Manager sign-off")
    page.click("[data-testid=node-panel-id]")  # leave the box
    page.click("[data-testid=node-name-input]")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    # While it is empty the panel says what will happen.
    assert "keeps “Manager sign-off”" in page.inner_text("[data-testid=node-name-empty]")
    page.click("[data-testid=node-panel-id]")
    assert page.input_value("[data-testid=node-name-input]") == "Manager sign-off"
    assert page.inner_text("[data-testid=node-name-approval]") == "Manager sign-off"
    assert page.locator("[data-testid=node-name-empty]").count() == 0
    save(page)
    workflow_id = page.url.rstrip("/").split("/")[-1]
    nodes = {n["id"]: n for n in api_get(page, f"/api/workflows/{workflow_id}")["definition"]["nodes"]}
    assert nodes["approval"]["name"] == "Manager sign-off"
    assert page_errors.unexpected() == []
