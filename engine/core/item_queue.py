"""The item queue of a loop (SPEC §4.5, `queue` on a `loop` node): which item starts next.

Items come from the loop's array ("upstream"). They enter the queue while it holds fewer
than `maxSize` entries — the rest wait upstream, in array order, and are never dropped
(back-pressure, not loss). Workers take entries in `priority` order: `fifo` (oldest
first), `lifo` (newest first) or `priority` (the highest value at `priorityPath` in the
item first, ties in array order). An entry that waits in the queue longer than `timeout`
ms expires: the loop fails that item with a queue timeout.

Without `maxSize` every item is in the queue from the loop's start (so `timeout` counts
from there), but fifo entries are materialised lazily: a loop over 100,000 items keeps no
100,000-entry structure. Pure and clock-injectable, so it is unit-tested without an engine.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.core.numerals import is_ascii_digits

ORDERS = ("fifo", "lifo", "priority")


def item_priority(item: Any, path: str) -> float:
    """The number at `path` in the item (`priority`, `meta.rank`, `{{item.priority}}`);
    items without a number there have priority 0."""
    text = path.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    parts = [p for p in text.split(".") if p]
    if parts and parts[0] == "item" and not (isinstance(item, Mapping) and "item" in item):
        parts = parts[1:]
    value: Any = item
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, Sequence) and not isinstance(value, str) and is_ascii_digits(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
            break
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


class ItemQueue:
    def __init__(
        self,
        items: Sequence[Any],
        config: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        config = config or {}
        self.items = items
        self.total = len(items)
        order = str(config.get("priority") or "fifo")
        self.order = order if order in ORDERS else "fifo"
        self.priority_path = str(config.get("priorityPath") or "priority")
        max_size = config.get("maxSize")
        self.max_size = int(max_size) if max_size else None
        timeout = config.get("timeout")
        self.timeout_s = float(timeout) / 1000 if timeout else None
        self.dead_letter = bool(config.get("deadLetterQueue"))
        self.clock = clock
        self.opened_at = clock()
        self.upstream = 0  # the next array index not yet in the queue
        self.size = 0  # entries in the queue
        self.peak_size = 0
        self._fifo: deque[int] = deque()
        self._stack: list[int] = []
        self._heap: list[tuple[float, int]] = []
        self._entered: dict[int, float] = {}  # only with maxSize (else: opened_at)
        self._arrivals: deque[int] = deque()  # entries in arrival order, for expiry
        self._taken: set[int] = set()  # left the queue; lazily dropped from _arrivals
        self._admit()

    # -- state ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.size

    @property
    def exhausted(self) -> bool:
        """No entry waits in the queue or upstream."""
        return self.size == 0 and self.upstream >= self.total

    @property
    def waiting_upstream(self) -> int:
        return self.total - self.upstream

    def entered_at(self, index: int) -> float:
        return self._entered.get(index, self.opened_at)

    def waited_s(self, index: int) -> float:
        return self.clock() - self.entered_at(index)

    # -- moving entries ---------------------------------------------------------------------
    def _lazy_fifo(self) -> bool:
        # Unbounded fifo: entering the queue is implicit (all at the start), nothing to hold.
        return self.max_size is None and self.order == "fifo"

    def _admit(self) -> None:
        if self._lazy_fifo():
            self.size = self.total - self.upstream
            self.peak_size = max(self.peak_size, self.size)
            return
        now = self.clock()
        while self.upstream < self.total and (self.max_size is None or self.size < self.max_size):
            index = self.upstream
            self.upstream += 1
            if self.order == "lifo":
                self._stack.append(index)
            elif self.order == "priority":
                heapq.heappush(self._heap, (-item_priority(self.items[index], self.priority_path), index))
            else:
                self._fifo.append(index)
            if self.max_size is not None:
                self._entered[index] = now
            if self.timeout_s is not None:
                self._arrivals.append(index)
            self.size += 1
        self.peak_size = max(self.peak_size, self.size)

    def _remove(self, index: int) -> None:
        self.size -= 1
        self._entered.pop(index, None)
        if self.timeout_s is not None:
            self._taken.add(index)

    def pop(self) -> int | None:
        """The next entry to start (it leaves the queue; one waiting upstream enters)."""
        index: int | None = None
        if self._lazy_fifo():
            if self.upstream < self.total:
                index = self.upstream
                self.upstream += 1
                self.size -= 1
            return index
        while index is None:
            if self.order == "lifo" and self._stack:
                index = self._stack.pop()
            elif self.order == "priority" and self._heap:
                index = heapq.heappop(self._heap)[1]
            elif self.order == "fifo" and self._fifo:
                index = self._fifo.popleft()
            else:
                return None
            if index in self._taken:  # expired earlier; its slot was already given up
                self._taken.discard(index)
                index = None
        self._remove(index)
        self._admit()
        return index

    def expire(self) -> list[tuple[int, float]]:
        """Entries that waited past `timeout`, oldest first, with the seconds each waited;
        they leave the queue (and entries waiting upstream take their places, with a fresh
        clock)."""
        if self.timeout_s is None:
            return []
        now = self.clock()
        expired: list[tuple[int, float]] = []
        if self._lazy_fifo():
            waited = now - self.opened_at
            if waited >= self.timeout_s:
                expired = [(index, waited) for index in range(self.upstream, self.total)]
                self.upstream = self.total
                self.size = 0
            return expired
        while self._arrivals:
            index = self._arrivals[0]
            if index in self._taken:
                self._arrivals.popleft()
                self._taken.discard(index)
                continue
            waited = now - self.entered_at(index)
            if waited < self.timeout_s:
                break
            self._arrivals.popleft()
            expired.append((index, waited))
            self._remove(index)
            self._taken.add(index)  # still inside the order structure: pop() skips it
        if expired:
            self._admit()
        return expired

    def next_deadline_s(self) -> float | None:
        """Seconds until the oldest entry expires (None: nothing can expire)."""
        if self.timeout_s is None or self.size == 0:
            return None
        oldest: float | None = None
        if self._lazy_fifo():
            oldest = self.opened_at
        else:
            for index in self._arrivals:
                if index not in self._taken:
                    oldest = self.entered_at(index)
                    break
            if oldest is None:
                return None
        return max(0.0, oldest + self.timeout_s - self.clock())
