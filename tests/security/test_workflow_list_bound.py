"""The workflow list is bounded: definitions whole, in the list's order, while they fit in
`FLOWMAESTRO_PAGE_MAX_BYTES`; the rest as a `{"truncated", "size", "url"}` marker whose URL
(`/api/workflows/{id}`) answers the workflow whole.

Before: `GET /api/workflows` carried every workflow's definition whole (up to 2.5 MB each),
so a user with a few hundred big workflows made one answer of gigabytes, built in the memory
of the server process every user shares."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db

PAD = 5_000


def padded(n: int, name: str | None = None) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["config"]["values"]["pad"] = f"{n}" + "x" * PAD
    d["name"] = name or f"W{n}"  # the workflow's: the server writes it into every definition
    return d


def test_past_the_budget_workflows_carry_a_marker_whose_url_answers_them_whole(
    alice_client, bob_client, settings
):
    ids = []
    for n in range(1, 6):
        created = alice_client.post("/api/workflows", {"name": f"W{n}", "definition": padded(n)}, format="json")
        assert created.status_code == 201, created.content
        ids.append(created.json()["id"])
    settings.FLOWMAESTRO_PAGE_MAX_BYTES = 12_000  # two definitions fit, not three
    response = alice_client.get("/api/workflows")
    assert response.status_code == 200 and len(response.content) < 14_000
    rows = response.json()
    assert [r["id"] for r in rows] == ids[::-1]  # most recently updated first
    assert [r["definition"] for r in rows[:2]] == [padded(5), padded(4)]
    for row in rows[2:]:
        marker = row["definition"]
        assert marker["truncated"] is True and marker["url"] == f"/api/workflows/{row['id']}"
        assert marker["size"] >= PAD
        whole = alice_client.get(marker["url"])
        assert whole.status_code == 200 and whole.json()["definition"] == padded(int(row["name"][1:]))
        assert bob_client.get(marker["url"]).status_code == 404
    assert bob_client.get("/api/workflows").json() == []


def test_within_the_budget_every_definition_is_whole(alice_client, make_workflow):
    make_workflow(definition=padded(1))
    [row] = alice_client.get("/api/workflows").json()
    assert row["definition"] == padded(1, "Greeting") and row["lastRun"] is None
