"""The recorder of one execution: the only writer of its node-run rows, its events and the
fields of its execution row, all into the engine's current write-behind batch.

Everything else in the core changes a node run by asking the recorder (`started`,
`ended`, `settled`, …), so a row's shape and an event's shape are spelled out here once.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

from engine.core.persistence import Batch, now

if TYPE_CHECKING:
    from engine.core.graph import Node

EVENT_OUTPUT_LIMIT = 4000
FINAL = frozenset({"succeeded", "failed", "skipped", "cancelled", "timed_out"})

_SCALARS = (str, int, float, bool, type(None))


class NodeRunRow(TypedDict):
    """One node run attempt as it is stored (`engine.models.NodeRun`)."""

    id: str
    execution_id: Any
    node_id: str
    name: str
    type: str
    scope: str  # "" for the top-level graph, the loop item's key inside a loop
    status: str
    attempt: int
    iteration: int | None
    branch_id: str
    branch_name: str
    trace_id: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    input: Any
    output: Any
    error: Any
    handle: str
    claimed_by: str
    pinned: bool  # its output is pinned test data: no body ran (engine.core.attempts)
    seq: int


class BatchHolder(Protocol):
    """What the recorder needs of the engine: the batch being filled right now (the writer
    swaps it at every flush, so it is looked up at every write)."""

    batch: Batch


def jsonable(value: Any) -> Any:
    if isinstance(value, _SCALARS) and not (isinstance(value, float) and value != value):
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def small(value: Any) -> Any:
    """A value as an event carries it: large outputs are summarised (the row has them)."""
    if isinstance(value, _SCALARS) and not isinstance(value, str):
        return value
    text = json.dumps(value, default=str)
    return value if len(text) <= EVENT_OUTPUT_LIMIT else {"truncated": True, "size": len(text)}


class NodeRunBoundReached(Exception):
    """The execution would record more node runs than its bound
    (FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS). Raised once, where the next row would be made;
    the coordinator's guard (`Coordinator.guarded`) fails that execution with the message,
    and the rows its cancel records afterwards are made as usual."""


class Recorder:
    def __init__(self, sink: BatchHolder, execution_id: Any, trace_id: str, owner: Any, *, last_seq: int,
                 run_seq: int, max_node_runs: int):
        self.sink = sink
        self.execution_id = execution_id
        self.trace_id = trace_id
        self.owner = owner
        self.seq = last_seq  # of events
        self.run_seq = run_seq  # of node runs
        # Node runs one execution may record, retries and loop items included, earlier
        # engines' and a redrive's too (`run_seq` counts on from the stored rows): nested
        # loops multiply rows without any one loop being long, and retention is the only
        # other bound on the disk they take.
        self.max_node_runs = max_node_runs
        self.over_bound = False
        # The latest row of each top-level node, earlier engines' included (RunHistory.load):
        # the execution's end counts from these what a redrive would re-run. A loop item's
        # rows are not kept (its loop counts its items), so this stays as small as the graph.
        self.top_rows: dict[str, NodeRunRow] = {}

    # -- events and the execution row ------------------------------------------------------
    def event(self, type: str, row: NodeRunRow | None = None, *, status: str = "", data: Any = None) -> None:
        self.seq += 1
        event = {
            "execution_id": self.execution_id, "seq": self.seq, "type": type, "ts": now(),
            "node_id": "", "node_run_id": "", "branch_id": "", "branch_name": "", "trace_id": self.trace_id,
            "attempt": None, "iteration": None, "status": status, "data": data,
        }
        if row is not None:
            event.update(
                node_id=row["node_id"], node_run_id=row["id"], branch_id=row["branch_id"],
                branch_name=row["branch_name"], trace_id=row["trace_id"], attempt=row["attempt"],
                iteration=row["iteration"], status=status or row["status"],
            )
        batch = self.sink.batch
        batch.events.append(event)
        batch.executions.setdefault(self.execution_id, {})["last_seq"] = self.seq

    def execution(self, **fields: Any) -> None:
        """Changed fields of the execution row; a status change is announced to its owner."""
        batch = self.sink.batch
        batch.executions.setdefault(self.execution_id, {}).update(fields)
        if "status" in fields:
            batch.owners[self.execution_id] = self.owner

    def event_count(self) -> int:
        return len(self.sink.batch.events)

    def unpaced_since(self, count: int) -> None:
        """The events written since `event_count()` was `count` are bookkeeping, not new work:
        they do not count toward the engine's write-behind bound."""
        batch = self.sink.batch
        batch.unpaced_events += len(batch.events) - count

    # -- node-run rows -------------------------------------------------------------------------
    def new_row(self, node: Node, *, scope: str, iteration: int | None, branch: tuple[str, str, str], attempt: int,
                status: str, input: Any, queued_at: datetime | None = None,
                taken_up: NodeRunRow | None = None) -> NodeRunRow:
        """A new attempt's row; `taken_up` is an earlier engine's queued row of the same attempt
        that never started (it keeps its id, seq and queue time, so no second row appears)."""
        bid, bname, trace = branch
        if taken_up is None:
            if self.run_seq >= self.max_node_runs and not self.over_bound:
                self.over_bound = True
                raise NodeRunBoundReached(
                    f"the execution has recorded {self.run_seq} node runs, the most one execution may "
                    f"(the bound FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS); node {node.id!r} would have been the next")
            self.run_seq += 1
        row: NodeRunRow = {
            # uuid4's randomness without building a UUID object.
            "id": taken_up["id"] if taken_up else os.urandom(16).hex(), "execution_id": self.execution_id,
            "node_id": node.id, "name": node.name, "type": node.type, "scope": scope, "status": status,
            "attempt": attempt, "iteration": iteration, "branch_id": bid, "branch_name": bname, "trace_id": trace,
            "queued_at": taken_up["queued_at"] if taken_up else (queued_at or now()), "started_at": None,
            "finished_at": None, "input": jsonable(input), "output": None, "error": None, "handle": "",
            "claimed_by": "", "pinned": False, "seq": taken_up["seq"] if taken_up else self.run_seq,
        }
        batch = self.sink.batch
        batch.node_runs[row["id"]] = cast(dict[str, Any], row)
        if taken_up is None:
            batch.new_ids.add(row["id"])
        if not scope:
            self.top_rows[node.id] = row
        return row

    def write(self, row: NodeRunRow) -> None:
        self.sink.batch.node_runs[row["id"]] = cast(dict[str, Any], row)

    def started(self, row: NodeRunRow, at: datetime, by: str, *, data: Any = None) -> None:
        """The attempt runs from `at`, on engine `by`; `data` goes into its event (a loop's
        `itemCount`)."""
        row["status"] = "running"
        row["started_at"] = at
        row["claimed_by"] = by
        self.write(row)
        self.event("node.started", row, data=data)

    def claim(self, row: NodeRunRow) -> None:
        """The start of a body handed to the executor is a compare-and-set in the store: a
        node run must not run twice."""
        self.sink.batch.claims.append(row["id"])

    def ended(self, row: NodeRunRow, status: str, *, output: Any = None, error: Any = None,
              handle: str | None = None) -> None:
        row["status"] = status
        row["finished_at"] = now()
        row["output"] = output
        row["error"] = error
        row["handle"] = handle or ""
        if row["started_at"] is None and status in ("succeeded", "failed", "timed_out"):
            row["started_at"] = row["finished_at"]
        self.write(row)
        data: dict[str, Any] = {}
        if output is not None:
            data["output"] = small(output)
        if error is not None:
            data["error"] = small(error)
        self.event(f"node.{status}", row, data=data or None)

    def settled(self, row: NodeRunRow, error: Any) -> None:
        """A node that ended without running (skipped, a join whose section failed): its new
        row ends as soon as it is queued."""
        row["finished_at"] = row["queued_at"]
        row["error"] = error
        self.event(f"node.{row['status']}", row, data={"error": error} if error else None)

    def retry_note(self, row: NodeRunRow, error: Any, delay_ms: float) -> None:
        row["error"] = {"previousError": error, "retryInMs": round(delay_ms)}

    def interrupted(self, row: dict[str, Any]) -> None:
        """An earlier engine's row that was running when it stopped: cancelled (it is retried)."""
        interrupted = cast(NodeRunRow, {**row, "status": "cancelled", "finished_at": now(),
                                        "error": {"message": "interrupted: the engine stopped; the node run is retried"}})
        self.write(interrupted)
        self._replaced(interrupted)
        self.event("node.cancelled", interrupted, data={"reason": "interrupted"})

    def abandoned(self, row: NodeRunRow) -> None:
        """An earlier engine's queued row that this run never reached again."""
        abandoned = cast(NodeRunRow, {**row, "status": "cancelled", "finished_at": now()})
        self.write(abandoned)
        self._replaced(abandoned)

    def _replaced(self, row: NodeRunRow) -> None:
        """A copy of a stored row is written in its place: a top-level one is its node's latest."""
        if not row["scope"] and (latest := self.top_rows.get(row["node_id"])) is not None and latest["id"] == row["id"]:
            self.top_rows[row["node_id"]] = row

    def log(self, row: NodeRunRow, message: str) -> None:
        self.event("log", row, status=row["status"], data={"message": message[:10000]})
