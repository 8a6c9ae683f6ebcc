"""The one bounded cache of the engine's memos (validation results, plans)."""

from __future__ import annotations

import threading

import pytest

from engine.core.bounded import BoundedCache


def test_it_keeps_at_most_size_entries_dropping_the_oldest():
    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abcd"):
        cache.put(key, i)
    assert len(cache) == 3
    assert cache.get("a") is None
    assert [cache.get(k) for k in "bcd"] == [1, 2, 3]


def test_replacing_a_key_evicts_nothing():
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    assert (cache.get("a"), cache.get("b"), len(cache)) == (3, 2, 2)


def test_writers_on_many_threads_keep_it_bounded():
    cache: BoundedCache[tuple[int, int], int] = BoundedCache(50)

    def write(t: int) -> None:
        for i in range(2000):
            cache.put((t, i), i)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


def test_a_size_below_one_is_refused():
    with pytest.raises(ValueError, match="^size must be at least 1$"):
        BoundedCache(0)
