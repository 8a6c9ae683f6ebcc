"""One bounded cache for the memos of a long-lived process (validation results, plans).

A dict of at most `size` entries; adding one more drops the oldest. Reads take no lock (a
dict read is atomic); writes take one, so that two threads evicting at once cannot trip
over each other. Replaces the hand-rolled "clear everything at N" dicts, which emptied a
warm cache at once.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._data and len(self._data) >= self._size:
                del self._data[next(iter(self._data))]
            self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
