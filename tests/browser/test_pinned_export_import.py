"""Pinned test data travels with an exported workflow (n8n's `pinData`), in Chromium.

Export from the editor writes the pins beside the definition; Import JSON on the list page
makes a workflow with those pins; Import in the editor over another workflow pins the
file's nodes at the save. A file whose pin the server refuses saves nothing; the pins
are then dropped, and saving again keeps the workflow without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import api_get, api_post, api_put
from tests.browser.test_pinned_data import definition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _file(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "flow.json", "mimeType": "application/json", "buffer": json.dumps(content).encode()}]


def test_export_carries_the_pins_and_import_restores_them(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Build on a pin", "definition": definition()})
    api_put(page, f"/api/workflows/{workflow['id']}/pins/fetch", {"data": {"n": 41}})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=pinned-fetch]")

    with page.expect_download() as download:
        page.click("[data-testid=export]")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["pinData"] == {"fetch": {"n": 41}}
    assert [n["id"] for n in exported["nodes"]] == ["start", "fetch", "calc", "o"]

    # Import JSON on the list page: a new workflow, pinned as the exported one was.
    page.goto("/")
    page.wait_for_selector("[data-testid=workflow-list-page]")
    before = {w["id"] for w in api_get(page, "/api/workflows")}
    page.set_input_files("[data-testid=import-workflow-file]", files=_file({**exported, "name": "Imported"}))
    page.wait_for_selector("[data-testid=pinned-fetch]")  # the new workflow's editor shows the pin
    new = [w for w in api_get(page, "/api/workflows") if w["id"] not in before]
    assert [w["name"] for w in new] == ["Imported"]
    assert [(p["nodeId"], p["data"]) for p in api_get(page, f"/api/workflows/{new[0]['id']}/pins")] == [
        ("fetch", {"n": 41})]

    # Import in the editor over a workflow without pins: the file's pins come with the save.
    other = api_post(page, "/api/workflows", {"name": "Other", "definition": {**definition(), "name": "Other"}})
    page.goto(f"/workflows/{other['id']}/")
    page.wait_for_selector("[data-testid=editor]")
    page.once("dialog", lambda dialog: dialog.dismiss())  # keep the name "Other"
    page.set_input_files("[data-testid=import-file]", files=_file({**exported, "pinData": {"calc": {"doubled": 7}}}))
    page.get_by_text("the pinned data of 1 node").wait_for()
    assert api_get(page, f"/api/workflows/{other['id']}/pins") == []  # not before the save
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=pinned-calc]")
    assert [(p["nodeId"], p["data"]) for p in api_get(page, f"/api/workflows/{other['id']}/pins")] == [
        ("calc", {"doubled": 7})]
    assert page.query_selector("[data-testid=pinned-fetch]") is None


def test_an_import_whose_pin_is_refused_saves_nothing(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Mine", "definition": {**definition(), "name": "Mine"}})
    version = workflow["version"]
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=editor]")
    page.once("dialog", lambda dialog: dialog.dismiss())
    moved = {**definition(), "nodes": [{**n, "position": {"x": n["position"]["x"], "y": 200}} for n in definition()["nodes"]]}
    page.set_input_files("[data-testid=import-file]", files=_file({**moved, "pinData": {"start": {"a": 1}}}))
    page.click("[data-testid=save]")
    page.get_by_text("pinned data was refused").wait_for()
    assert "start" in page.inner_text("[role=status], [role=alert], body")
    assert api_get(page, f"/api/workflows/{workflow['id']}")["version"] == version  # nothing saved
    assert api_get(page, f"/api/workflows/{workflow['id']}/pins") == []
    page.click("[data-testid=save]")  # the pins dropped: the workflow saves without them
    page.get_by_text("Saved as version").first.wait_for()
    assert api_get(page, f"/api/workflows/{workflow['id']}")["version"] == version + 1
    assert api_get(page, f"/api/workflows/{workflow['id']}/pins") == []
