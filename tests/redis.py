"""A throw-away redis-server on a free loopback port, for tests that need the real one:
the local cluster's own (engine.cluster.LocalCluster.start_redis), without the rest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine.cluster import LocalCluster


@contextmanager
def running_redis() -> Iterator[str]:
    """Yields the server's URL once it answers PING; stops it afterwards. A missing or
    broken redis-server fails the test, never skips it (README names the apt package)."""
    cluster = LocalCluster(database_url="")
    try:
        try:
            url = cluster.start_redis()
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield url
    finally:
        cluster.stop()
