"""Measuring what a test's code holds in memory (tracemalloc), for the tests of size bounds."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def peak_mb() -> Iterator[list[float]]:
    """The most memory Python held at once inside the block, in MB (bytes included): the
    list gets that one figure when the block ends."""
    seen: list[float] = []
    tracemalloc.start()
    try:
        yield seen
    finally:
        seen.append(tracemalloc.get_traced_memory()[1] / 1e6)
        tracemalloc.stop()
