from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.runtime import stop_engine
from tests.engine.core_runner import CoreRunner


@pytest.fixture(autouse=True, scope="session")
def _engine_stops_before_the_test_database_goes(django_db_setup: None) -> Iterator[None]:
    yield
    stop_engine(1)


@pytest.fixture
def core() -> Iterator[CoreRunner]:
    """A running engine on in-memory persistence, stopped after the test."""
    runner = CoreRunner()
    yield runner
    runner.engine.stop(1)
