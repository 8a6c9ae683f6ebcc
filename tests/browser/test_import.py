"""Import in the editor (issue 16): anything parseable goes onto the canvas, and the
workflow keeps its own name unless the person asks for the file's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.helpers import api_post
from tests.conftest import SIMPLE_DEFINITION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _import(page: Any, name: str, accept: bool) -> None:
    page.once("dialog", lambda dialog: dialog.accept() if accept else dialog.dismiss())
    body = json.dumps({**SIMPLE_DEFINITION, "name": name}).encode()
    page.set_input_files("[data-testid=import-file]",
                         files=[{"name": "flow.json", "mimeType": "application/json", "buffer": body}])


def test_import_keeps_the_name_unless_asked(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Mine", "definition": {**SIMPLE_DEFINITION, "name": "Mine"}})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=editor]")
    _import(page, "From the file", accept=False)
    page.get_by_text("kept the name “Mine”").wait_for()
    _import(page, "From the file", accept=True)
    page.get_by_text("renamed to “From the file”").wait_for()
    page.click("[data-testid=save]")
    page.get_by_text("Saved").first.wait_for()
    assert page.request.get(f"/api/workflows/{workflow['id']}").json()["name"] == "From the file"
