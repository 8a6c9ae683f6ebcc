"""A workflow has one name. Probed: `POST /api/workflows` with `"name": "Fan"` and a
definition whose own `name` was "Fan-out" listed "Fan" and opened in the editor titled
"Fan-out". The workflow's `name` is the contract (SPEC §7); the stored definition now
always carries it (its own name is overwritten on every save; the editor's title is saved as
the workflow's name), a rename alone is no new version (versions record the graph), and a restore keeps the
present name."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db


def named(name: str, **values: Any) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["name"] = name
    d["nodes"][1]["config"]["values"].update(values)
    return d


def names(client: Any, workflow_id: int) -> tuple[str, str, str]:
    """The name in the list, in the detail, in the detail's definition (what the editor opens)."""
    listed = next(w for w in client.get("/api/workflows").json() if w["id"] == workflow_id)
    detail = client.get(f"/api/workflows/{workflow_id}").json()
    return listed["name"], detail["name"], detail["definition"]["name"]


def newest_version(client: Any, workflow_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/workflows/{workflow_id}/versions").json()[0])


def test_the_workflows_name_is_written_into_its_definition(alice_client):
    created = alice_client.post("/api/workflows", {"name": "Fan", "definition": named("Fan-out")}, format="json")
    assert created.status_code == 201
    assert created.json()["definition"]["name"] == "Fan"
    workflow_id = created.json()["id"]
    assert names(alice_client, workflow_id) == ("Fan",) * 3
    assert newest_version(alice_client, workflow_id)["definition"]["name"] == "Fan"
    # A definition without a name gets it too.
    bare = named("x")
    del bare["name"]
    other = alice_client.post("/api/workflows", {"name": "Bare", "definition": bare}, format="json").json()
    assert other["definition"]["name"] == "Bare"


def test_a_rename_reaches_every_place_and_the_workflows_name_wins(alice_client):
    workflow_id = alice_client.post("/api/workflows", {"name": "Fan", "definition": named("Fan")},
                                    format="json").json()["id"]
    # The name alone: the stored definition follows, and no version is added for it.
    renamed = alice_client.patch(f"/api/workflows/{workflow_id}", {"name": "Fan in"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["version"] == 1
    assert names(alice_client, workflow_id) == ("Fan in",) * 3
    # Both given and different: the workflow's name wins.
    alice_client.patch(f"/api/workflows/{workflow_id}", {"name": "Both", "definition": named("Other", n=1)},
                       format="json")
    assert names(alice_client, workflow_id) == ("Both",) * 3
    assert newest_version(alice_client, workflow_id)["definition"]["name"] == "Both"
    # The definition alone: the workflow's name is written into it.
    saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": named("Stray", n=2)}, format="json")
    assert saved.json()["version"] == 3
    assert names(alice_client, workflow_id) == ("Both",) * 3


def test_restore_and_duplicate_keep_one_name(alice_client):
    workflow_id = alice_client.post("/api/workflows", {"name": "Old", "definition": named("Old")},
                                    format="json").json()["id"]
    alice_client.patch(f"/api/workflows/{workflow_id}", {"name": "New", "definition": named("New", n=1)},
                       format="json")
    restored = alice_client.post(f"/api/workflows/{workflow_id}/versions/1/restore")
    assert restored.status_code in (200, 201), restored.content
    assert names(alice_client, workflow_id) == ("New",) * 3
    detail = alice_client.get(f"/api/workflows/{workflow_id}").json()
    assert "n" not in detail["definition"]["nodes"][1]["config"]["values"]  # version 1's graph is back
    copied = alice_client.post(f"/api/workflows/{workflow_id}/duplicate").json()
    assert copied["name"] == "New (copy)" and copied["definition"]["name"] == "New (copy)"
