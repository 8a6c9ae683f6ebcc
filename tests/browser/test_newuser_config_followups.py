"""Follow-ups of a new user's pass over the config panel, versions and import, in Chromium.

Probed: a 20-digit `maxConcurrency` and `rateLimit -5` read "No problems found" until Save
(then "a draft with 2 problems"), and the huge number ran past the loop's border on the
canvas; the Versions dialog could only Restore, blind; importing a file named like an
existing workflow gave two identical names in the list; a help line ran into "Default: …"."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from editor.services import workflow_create, workflow_update
from tests.browser.canvas import open_node
from tests.conftest import SIMPLE_DEFINITION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_after_start(page: Any, node_type: str) -> None:
    page.click(".react-flow__node[data-id='start'] .fm-node-name")
    page.click(f"[data-testid=palette-{node_type}]")


def test_numbers_out_of_range_show_under_the_field_and_on_the_node_while_typing(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Big numbers")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    add_after_start(page, "loop")
    open_node(page, "loop")
    page.fill("[data-testid=field-maxConcurrency]", "12345678901234567890")
    page.fill("[data-testid=field-rateLimit]", "-5")
    # Under each field, as typed (no save): the range the node type allows.
    assert "out of range: allowed 1 to" in page.inner_text("[data-testid=field-maxConcurrency-problem]")
    assert page.inner_text("[data-testid=field-rateLimit-problem]") == "rateLimit: -5 is out of range: allowed 0.001 to 100000"
    assert page.get_attribute("[data-testid=field-rateLimit]", "aria-invalid") == "true"
    # On the node's badge and in the problems bar at once, not first when saving.
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-testid=node-error-loop]');"
        " return b && b.title.includes('maxConcurrency') && b.title.includes('rateLimit'); }", timeout=3000)
    assert "No problems found" not in page.inner_text("[data-testid=issues]")
    # A good value clears its problem.
    page.fill("[data-testid=field-rateLimit]", "5")
    assert page.locator("[data-testid=field-rateLimit-problem]").count() == 0
    # The loop's summary line stays inside the loop, cut with an ellipsis (whole in its tooltip).
    summary = page.locator("[data-testid=loop-summary-loop]").bounding_box()
    loop = page.locator("[data-testid=node-loop]").bounding_box()
    assert summary and loop
    assert summary["x"] + summary["width"] <= loop["x"] + loop["width"]
    # (The text is longer than the loop is wide: it is cut, not wrapped nor spilled.)
    assert page.eval_on_selector("[data-testid=loop-summary-loop]", "e => e.scrollWidth > e.clientWidth")
    assert page.eval_on_selector("[data-testid=loop-summary-loop]", "e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert "12345678901234567" in (page.get_attribute("[data-testid=loop-summary-loop]", "title") or "")
    assert page_errors.unexpected() == []


def test_a_help_line_and_its_default_do_not_run_together(logged_in_page: Any) -> None:
    page = logged_in_page
    page.goto("/workflows/new/?name=Help")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    add_after_start(page, "loop")
    open_node(page, "loop")
    field = page.locator(".fm-field", has=page.locator("[data-testid=field-maxConcurrency]"))
    help_text = field.locator(".fm-help").inner_text()
    # "items in flight at most Default: 10" read as one sentence: the default is a line of its own.
    assert "items in flight at most\nDefault: 10" in help_text, help_text


def test_a_version_can_be_viewed_and_compared_with_the_draft(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    casey = get_user_model().objects.get(username="casey")
    first = copy.deepcopy(SIMPLE_DEFINITION)
    first["nodes"].append({"id": "note", "type": "log", "name": "Note", "position": {"x": 750, "y": 0},
                           "config": {"message": "old"}})
    first["edges"].append({"id": "e3", "source": "done", "target": "note"})
    workflow = workflow_create(owner=casey, name="Greeting", definition=first)
    second = copy.deepcopy(SIMPLE_DEFINITION)
    second["nodes"][1]["config"]["values"] = {"greeting": "hi {{input.who}}"}
    second["nodes"].append({"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 750, "y": 0},
                            "config": {"duration": 10}})
    workflow_update(workflow=workflow, user=casey, definition=second)

    page.goto(f"/workflows/{workflow.pk}/")
    page.wait_for_selector(".react-flow__node[data-id='wait']")
    page.click("[data-testid=open-versions]")
    page.click("[data-testid=view-1]")
    view = page.inner_text("[data-testid=version-view-1]")
    assert "v1: 4 nodes" in view and "note" in view and "Note" in view
    page.click("[data-testid=version-view-1] summary")
    shown = json.loads(page.inner_text("[data-testid=version-json-1]"))
    assert [n["id"] for n in shown["nodes"]] == ["start", "greet", "done", "note"]

    page.click("[data-testid=compare-1]")
    assert page.locator("[data-testid=version-view-1]").count() == 0
    assert "wait (Wait)" in page.inner_text("[data-testid=compare-added]")
    assert "note (Note)" in page.inner_text("[data-testid=compare-removed]")
    changed = page.inner_text("[data-testid=compare-changed-greet]")
    assert 'values: {"greeting":"hello {{input.who}}"} → {"greeting":"hi {{input.who}}"}' in changed
    assert page.locator("[data-testid^=compare-changed-]").count() == 1
    # The current version against the draft it was loaded as: nothing differs.
    page.click("[data-testid=compare-2]")
    page.wait_for_selector("[data-testid=compare-same]")
    assert page_errors.unexpected() == []


def test_importing_a_taken_name_names_the_copy_imported(logged_in_page: Any) -> None:
    page = logged_in_page
    casey = get_user_model().objects.get(username="casey")
    workflow_create(owner=casey, name="Greeting", definition=copy.deepcopy(SIMPLE_DEFINITION))
    page.goto("/workflows/")
    page.wait_for_selector("[data-testid=import-workflow]")
    body = json.dumps({**SIMPLE_DEFINITION, "name": "Greeting"}).encode()
    page.set_input_files("[data-testid=import-workflow-file]",
                         files=[{"name": "greeting.json", "mimeType": "application/json", "buffer": body}])
    page.wait_for_selector("[data-testid=editor]")
    page.get_by_text("Imported as “Greeting (imported)”: you already have a workflow named “Greeting”.").wait_for()
    # Once more: the next free name.
    page.goto("/workflows/")
    page.wait_for_selector("[data-testid=import-workflow]")
    page.set_input_files("[data-testid=import-workflow-file]",
                         files=[{"name": "greeting.json", "mimeType": "application/json", "buffer": body}])
    page.wait_for_selector("[data-testid=editor]")
    page.get_by_text("Imported as “Greeting (imported 2)”").wait_for()
    names = {w["name"] for w in page.request.get("/api/workflows").json()}
    assert names == {"Greeting", "Greeting (imported)", "Greeting (imported 2)"}
