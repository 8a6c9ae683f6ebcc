"""Core tests: the real engine (coordinator, scheduler, timers, worker pool) on in-memory
persistence — no database, so each test runs in milliseconds. Their `core` fixture is in
tests/engine/conftest.py (the seed examples use it too); here, definitions as `graph`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.engine.definitions import definition


def graph(nodes: list[dict[str, Any]], edges: list[tuple[str, str]] | list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    """Build a definition: nodes as dicts (config defaults to {}), edges as (source, target)."""
    return definition(nodes, edges, name="test", **settings)


def duration(run: dict[str, Any]) -> float:
    return (run["finished_at"] - run["started_at"]).total_seconds()


Graph = Callable[..., dict[str, Any]]


@pytest.fixture(name="graph")
def graph_fixture() -> Graph:
    return graph


@pytest.fixture(name="duration")
def duration_fixture() -> Callable[[dict[str, Any]], float]:
    return duration
