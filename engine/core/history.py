"""What an execution's earlier node runs mean for this run of it (a restart, a takeover,
a redrive): which nodes replay their recorded end, which attempt numbers are taken, and
which queued rows are taken up again as the same attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from engine.core.records import FINAL, NodeRunRow
from engine.core.redrive import rerun_keys

if TYPE_CHECKING:
    from engine.core.graph import Graph
    from engine.core.records import Recorder

Key = tuple[str, str]  # (scope key, node id)


class RunHistory:
    def __init__(self) -> None:
        # Rows of an earlier engine: finished ones are replayed, unfinished ones retried.
        self.replay: dict[Key, NodeRunRow] = {}
        self.recorded: set[Key] = set()
        self.attempt_counts: dict[Key, int] = {}
        # Attempt numbers run on across branch retries (each attempt its own row); a node's
        # own `retry` counts from the attempt its branch's latest run started at.
        self.retry_base: dict[Key, int] = {}
        # Queued rows that never started (e.g. held by a pause) are taken up again as the
        # same attempt, so restarting a paused run costs no retry attempts and adds no rows.
        self.unstarted: dict[Key, NodeRunRow] = {}
        # Loop items that did not succeed in a loop run that is kept as it was (not run
        # again now): the loops that do run count their own items as they end.
        self.kept_failed_items = 0

    @classmethod
    def load(cls, graph: Graph, rows: list[dict[str, Any]], redrive: dict[str, Any], rec: Recorder,
             waiting: set[Any] | frozenset[Any] = frozenset()) -> RunHistory:
        """From the stored rows (in seq order); rows that were running when their engine
        stopped are recorded as interrupted. A redrive's re-run nodes are history up to
        `sinceSeq`, the node-run seq when it began; rows after that replay as usual.
        `waiting`: ids of rows that wait to retry and are taken up again, like queued ones
        (the custom signal handlers the execution's state keeps, engine.core.signals)."""
        self = cls()
        since = int(redrive.get("sinceSeq") or 0)
        history = rerun_keys(graph, [r for r in rows if r.get("seq", 0) <= since],
                             nodes=redrive.get("nodes"), items=redrive.get("items"),
                             new_version=bool(redrive.get("newVersion")),
                             after_success=bool(redrive.get("afterSuccess")),
                             leave_out=redrive.get("leaveOut")) if redrive else set()
        top_rows = rec.top_rows
        for stored in rows:
            row = cast(NodeRunRow, stored)
            key = (row["scope"], row["node_id"])
            if not key[0]:
                top_rows[key[1]] = row  # in seq order: the latest stays (engine.core.records)
            if key in history and row.get("seq", 0) <= since:
                self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"])
                continue
            self.recorded.add(key)
            if not row.get("started_at") and (row["status"] == "queued"
                                              or (row["status"] == "retrying" and row["id"] in waiting)):
                self.replay.pop(key, None)
                self.unstarted[key] = row
                self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"] - 1)
                continue
            self.attempt_counts[key] = max(self.attempt_counts.get(key, 0), row["attempt"])
            if row["status"] in FINAL:
                self.replay[key] = row  # rows come in seq order: the last attempt of a node decides
            else:
                self.replay.pop(key, None)
                rec.interrupted(stored)
        if self.replay:
            self.kept_failed_items = _kept_failed_items(self.replay)
        return self

    def forget(self, scope_key: str, node_ids: Iterable[str]) -> int:
        """Drop what is known of a scope run that has ended for good (a loop item: its key
        is never used again), so that this does not grow with the item count; returns the
        most attempts one of its nodes took (at least 1)."""
        attempts = 1
        for node_id in node_ids:
            key = (scope_key, node_id)
            attempts = max(attempts, self.attempt_counts.pop(key, 0))
            self.recorded.discard(key)
            self.retry_base.pop(key, None)
        return attempts

    def next_attempt(self, key: Key) -> int:
        """Count a new attempt of this node and return its number."""
        number = self.attempt_counts[key] = self.attempt_counts.get(key, 0) + 1
        return number

    def take_unstarted(self, key: Key, attempt: int) -> NodeRunRow | None:
        """The earlier engine's queued row of this very attempt, if there is one."""
        row = self.unstarted.pop(key, None)
        return row if row is not None and row["attempt"] == attempt else None


def _kept_failed_items(replay: dict[Key, NodeRunRow]) -> int:
    """Items (`loop#3`, `outer#1/inner#0`) whose latest run of some node did not succeed,
    in a loop node run that ended and replays (a loop that runs again counts itself)."""
    failed = {scope for (scope, _), row in replay.items() if scope and row["status"] not in ("succeeded", "skipped")}
    kept = 0
    for scope in failed:
        head, _, last = scope.rpartition("/")
        if (head, last.partition("#")[0]) in replay:
            kept += 1
    return kept
