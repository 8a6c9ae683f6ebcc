"""The version list is bounded: definitions whole, newest first, while they fit in
`FLOWMAESTRO_PAGE_MAX_BYTES`; older ones as a `{"truncated", "size", "url"}` marker whose URL
answers the version whole.

Before: the list carried every version's definition whole. Each save of a changed
definition is a version and a definition may be 2.5 MB, so a few hundred saves made one
answer of gigabytes, built in the memory of the server process every user shares."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db

PAD = 5_000  # characters of padding per version: each definition is ~5.6 KB of JSON


def padded(n: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["config"]["values"]["pad"] = f"{n}" + "x" * PAD
    d["name"] = "Often saved"  # the workflow's: the server writes it into every definition
    return d


@pytest.fixture
def workflow_with_five_versions(alice_client) -> int:
    created = alice_client.post("/api/workflows", {"name": "Often saved", "definition": padded(1)}, format="json")
    assert created.status_code == 201, created.content
    workflow_id = int(created.json()["id"])
    for n in range(2, 6):
        saved = alice_client.patch(f"/api/workflows/{workflow_id}", {"definition": padded(n)}, format="json")
        assert saved.status_code == 200, saved.content
    return workflow_id


def test_past_the_budget_older_versions_carry_a_marker_whose_url_answers_them_whole(
    alice_client, bob_client, workflow_with_five_versions, settings
):
    settings.FLOWMAESTRO_PAGE_MAX_BYTES = 12_000  # two definitions fit, not three
    workflow_id = workflow_with_five_versions
    response = alice_client.get(f"/api/workflows/{workflow_id}/versions")
    assert response.status_code == 200
    assert len(response.content) < 14_000
    rows = response.json()
    assert [r["number"] for r in rows] == [5, 4, 3, 2, 1]
    assert [r["definition"] for r in rows[:2]] == [padded(5), padded(4)]
    for row in rows[2:]:
        marker = row["definition"]
        assert marker["truncated"] is True and marker["url"] == f"/api/workflows/{workflow_id}/versions/{row['number']}"
        assert marker["size"] >= PAD
        whole = alice_client.get(marker["url"])
        assert whole.status_code == 200 and whole.json()["definition"] == padded(row["number"])
        assert bob_client.get(marker["url"]).status_code == 404
    assert {"id", "createdAt", "createdBy"} <= set(rows[0])


def test_within_the_budget_every_definition_is_whole(alice_client, workflow_with_five_versions):
    rows = alice_client.get(f"/api/workflows/{workflow_with_five_versions}/versions").json()
    assert [r["definition"] for r in rows] == [padded(n) for n in (5, 4, 3, 2, 1)]
    assert len(json.dumps(rows)) < 4_000_000
