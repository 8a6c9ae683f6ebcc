"""The coordinator's timers: `delay` waits, retry back-offs, timeouts and deadlines.

A timer is a heap entry, not a sleeping thread, so 10,000 waiting loop items cost no
threads at all. Timers run on the coordinator thread (engine.core.coordinator): it blocks
until the next one is due (`wait`), spins the last stretch when that pays (`spin`,
engine.core.pacing), then fires every due one (`fire_due`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.core import pacing

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun


def clock() -> float:
    """The monotonic clock timers run on, one for all of the core (tests warp it by
    replacing this module's `time`)."""
    return time.monotonic()


def precise_timers() -> None:
    """Linux lets a thread's timed waits end up to 50 µs late by default ("timer slack");
    ask for 1 µs on the calling (coordinator) thread. Elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1000, 0, 0, 0)  # PR_SET_TIMERSLACK, in nanoseconds
    except (OSError, AttributeError):
        pass


class Timer:
    __slots__ = ("due", "callback", "cancelled", "ex")

    def __init__(self, due: float, callback: Callable[[], None], ex: ExecutionRun | None = None):
        self.due = due
        self.callback = callback
        self.cancelled = False
        self.ex = ex


class Timers:
    """The heap of pending timers (coordinator thread only)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._ids = itertools.count()
        self._spun_at = 0.0  # when the last spin ended

    def __bool__(self) -> bool:
        return bool(self._heap)

    def add(self, delay_s: float, callback: Callable[[], None], ex: ExecutionRun | None = None) -> Timer:
        """Call `callback` after `delay_s` seconds; a timer of an execution (`ex`) that
        raises fails that execution only."""
        timer = Timer(clock() + delay_s, callback, ex)
        heapq.heappush(self._heap, (timer.due, next(self._ids), timer))
        return timer

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def wait(self, timeout: float) -> tuple[float, float]:
        """How long to block for a message (at most `timeout`), and until when to spin
        afterwards if none came (0.0: no spin)."""
        return pacing.timer_wait(timeout, clock(), self.next_due(), self._spun_at)

    def spin(self, until: float) -> None:
        """Yield until `until`: the writer and the workers run while the timer comes due."""
        while clock() < until:
            time.sleep(0)
        self._spun_at = clock()

    def fire_due(self, guarded: Callable[..., Any], safe: Callable[..., Any]) -> None:
        """Call every due timer: an execution's through `guarded` (its failure is its
        own), the engine's own through `safe`."""
        mono = clock()
        heap = self._heap
        while heap and heap[0][0] <= mono:
            _, _, timer = heapq.heappop(heap)
            if not timer.cancelled:
                timer.cancelled = True
                if timer.ex is not None:
                    guarded(timer.ex, timer.callback)
                else:
                    safe(timer.callback)
