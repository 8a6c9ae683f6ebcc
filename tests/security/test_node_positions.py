"""A node's `position` is `{"x": number, "y": number}` within ±1e9, or absent.

Before: `{"x": "a", "y": null}`, `{"x": 10**400}`, a list or a string were saved with a 201;
the editor reads such a position as NaN and draws the node nowhere, so the user could
neither see nor select it (and saving again wrote nulls back)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db


def with_position(position: Any) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["position"] = position
    return d


@pytest.mark.parametrize("position", [
    {"x": "a", "y": 0}, {"x": "100", "y": 0}, {"x": None, "y": 0}, {"x": True, "y": 0}, {"x": 0},
    {"x": 0, "y": 0, "z": 0}, {"x": 10**400, "y": 0}, {"x": 0, "y": -1e10}, [0, 0], "0,0", 5, {},
])
def test_a_position_that_is_not_two_numbers_is_a_400_on_its_node(alice_client, position):
    response = alice_client.post("/api/workflows", {"name": "Lost", "definition": with_position(position)},
                                 format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [
        {"message": 'position must be {"x": number, "y": number}, each within ±1,000,000,000', "nodeId": "greet"}
    ]


@pytest.mark.parametrize("position", [{"x": 0, "y": 0}, {"x": -250.5, "y": 1e9}, None])
def test_numbers_within_the_bound_or_no_position_are_saved(alice_client, position):
    d = with_position(position)
    if position is None:
        del d["nodes"][1]["position"]
    response = alice_client.post("/api/workflows", {"name": "Placed", "definition": d}, format="json")
    assert response.status_code == 201, response.content
