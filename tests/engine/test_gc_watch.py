"""Garbage of big answers is collected in an engine process (engine.runtime).

The engine raises the collector's thresholds, so a full collection is rare; reference
cycles left by a request that outlived two collections (DRF serializers, the request) then
held a big execution's decoded input and outputs until it came: daphne grew ~5 MB per
detail request of a 100,000-item loop watched from the run page. The watch collects once
the interpreter holds FLOWMAESTRO_GC_COLLECT_GROWTH more objects than after its last pass.
"""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

from engine.runtime import tune_garbage_collector


class Holder:
    def __init__(self, payload: list[int]) -> None:
        self.payload = payload
        self.me: Any = self  # a reference cycle: only the cycle collector frees it


def _collected(refs: list[weakref.ref[Holder]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(ref() is not None for ref in refs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(ref() is None for ref in refs)


def test_cyclic_garbage_holding_megabytes_is_collected() -> None:
    tune_garbage_collector()  # as every engine process does; starts the watch (once)
    gc.disable()  # the collector's own passes may not be what frees it
    try:
        holder = Holder(list(range(10**7, 10**7 + 1_500_000)))  # 1.5 million objects, ~50 MB
        gone = [weakref.ref(holder)]
        del holder
        if not _collected(gone, 5):
            # The watch may have passed while the list was being built (a loaded machine
            # builds it slowly): its mark then counts most of it, and the watch waits for
            # the next million. That growth comes, and then both must go.
            again = Holder(list(range(10**7, 10**7 + 1_500_000)))
            gone.append(weakref.ref(again))
            del again
        assert _collected(gone, 10), "a cycle holding 1.5 million objects was not collected"
    finally:
        gc.enable()
