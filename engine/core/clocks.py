"""Clocks that an engine which stops must not reset: a timed branch's, a section's
`totalTimeout`, the execution's own `timeout`. Each runs from a moment an earlier engine
has already written down — the `queued_at` of a node run, saved in the same atomic flush as
the `node.queued` event that announces it — so the engine that resumes the execution counts
from there, and arms its timer for what is left (nothing, when it passed while no engine
ran the execution).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any


def clock_starts(rows: Iterable[Mapping[str, Any]], watched: Mapping[str, list[str]], *, since: int = 0,
                 base: Mapping[tuple[str, str], int] | None = None) -> dict[tuple[str, str], float]:
    """(scope key, clock name) -> when it started (wall-clock seconds): the earliest node
    run of a node in `watched` (node id -> the clocks its readiness starts) in that scope.
    Rows up to `since` (a redrive's start: its clocks start again) and attempts up to
    `base` (a branch's earlier attempts) do not count."""
    starts: dict[tuple[str, str], float] = {}
    for row in rows:
        names = watched.get(row["node_id"])
        if not names or row.get("seq", 0) <= since:
            continue
        if base and row["attempt"] <= base.get((row["scope"], row["node_id"]), 0):
            continue
        at = row["queued_at"].timestamp()
        for name in names:
            key = (row["scope"], name)
            starts[key] = min(at, starts.get(key, at))
    return starts


def time_left(started: float | None, limit_s: float) -> float:
    """Seconds until a clock of `limit_s` that started at `started` (None: now) runs out."""
    return limit_s if started is None else max(0.0, started + limit_s - time.time())


def execution_started(rows: Iterable[Mapping[str, Any]], since: int = 0) -> float | None:
    """When the execution (or its current redrive) began running: its first node run."""
    first = min((r["queued_at"] for r in rows if r.get("seq", 0) > since), default=None)
    return None if first is None else first.timestamp()
