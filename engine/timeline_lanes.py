"""The lanes of the execution timeline (engine.timeline): which lane each node run's bar
sits in, and the lane tree. One lane per branch (`branch:<branchId>`, nested under its
parent branch); a loop's items grouped under the loop (`loop:<loop path>`) and spread over
one lane per concurrent slot (`loop:<path>:slot:<n>`): an item takes the first slot free
when it is queued, so the number of slot lanes is the concurrency the loop reached."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from engine.nodes import container_types

Row = dict[str, Any]
_ITEM_INDEX = re.compile(r"#\d+")


def branch_lane_id(branch_id: str) -> str:
    return f"branch:{branch_id or 'main'}"


def loop_group_of(scope: str) -> str:
    """`loop#3` → `loop`; `outer#1/inner#0` → `outer/inner` (one group per loop node)."""
    return _ITEM_INDEX.sub("", scope)


def _branch_path(branch_id: str) -> tuple[int, ...]:
    if not branch_id or branch_id == "main":
        return ()
    try:
        return tuple(int(part) for part in branch_id.split("."))
    except ValueError:
        return ()


def _parent_trace(trace_id: str) -> str:
    head, sep, tail = trace_id.rpartition("-")
    return head if sep and tail.isdigit() and head.count("-") >= 1 else trace_id


class _Lanes:
    """Builds the lane tree while bars are assigned to lanes."""

    def __init__(self, execution_trace: str):
        self.execution_trace = execution_trace
        self.lanes: dict[str, Row] = {}
        self.children: dict[str | None, list[str]] = defaultdict(list)

    def _add(self, lane: Row) -> Row:
        self.lanes[lane["id"]] = lane
        self.children[lane["parent"]].append(lane["id"])
        return lane

    def branch(self, branch_id: str, branch_name: str, trace_id: str) -> str:
        branch_id = branch_id or "main"
        lane_id = branch_lane_id(branch_id)
        lane = self.lanes.get(lane_id)
        path = _branch_path(branch_id)
        if path:
            # A top-level branch's trace is the run's plus its path; a row's own may be longer
            # (a loop's run beside other children of its branch: engine.core.branches).
            trace_id = self.execution_trace + "".join(f"-{i:03d}" for i in path)
        if lane is None:
            parent = None
            if path:
                # Make sure the parent branch has a lane, so that nested branches indent under it.
                parent_id = ".".join(str(p) for p in path[:-1]) or "main"
                parent = self.branch(parent_id, "main" if parent_id == "main" else "", _parent_trace(trace_id))
            lane = self._add({
                "id": lane_id, "kind": "branch", "label": branch_name or branch_id, "parent": parent,
                "branchId": branch_id, "branchName": branch_name or None,
                "traceId": trace_id if branch_id != "main" else self.execution_trace,
                "sortKey": path, "barCount": 0,
            })
        elif branch_name and not lane["branchName"]:
            lane["branchName"] = lane["label"] = branch_name
            lane["traceId"] = trace_id
        return lane_id

    def loop_group(self, group: str, parent: str, node_id: str, name: str, trace_id: str) -> str:
        lane_id = f"loop:{group}"
        if lane_id not in self.lanes:
            self._add({
                "id": lane_id, "kind": "loop", "label": name or node_id, "parent": parent, "nodeId": node_id,
                "traceId": trace_id, "sortKey": (), "items": 0, "slots": 0, "barCount": 0,
                "counts": {},
            })
        return lane_id

    def slot(self, group_lane: str, index: int) -> str:
        lane_id = f"{group_lane}:slot:{index}"
        if lane_id not in self.lanes:
            group = self.lanes[group_lane]
            group["slots"] = max(group["slots"], index + 1)
            self._add({
                "id": lane_id, "kind": "slot", "label": f"slot {index + 1}", "parent": group_lane,
                "sortKey": (index,), "barCount": 0,
            })
        return lane_id

    def ordered(self) -> list[Row]:
        """Depth-first: each lane followed by its child branches, then its loops."""
        out: list[Row] = []

        def visit(lane_id: str, depth: int) -> None:
            lane = self.lanes[lane_id]
            out.append({k: v for k, v in lane.items() if k != "sortKey"} | {"depth": depth})
            kids = self.children.get(lane_id, [])
            kids = sorted(kids, key=lambda k: (self.lanes[k]["kind"] != "branch", self.lanes[k]["sortKey"]))
            for kid in kids:
                visit(kid, depth + 1)

        for root in sorted(self.children.get(None, []), key=lambda k: self.lanes[k]["sortKey"]):
            visit(root, 0)
        return out


def assign_lanes(rows: list[Row], execution_trace: str, now: datetime) -> tuple[dict[str, str], list[Row]]:
    """The lane of every node run, and the ordered lane list."""
    lanes = _Lanes(execution_trace)
    containers = container_types()  # asked once per timeline, not per row
    lane_of: dict[str, str] = {}
    lanes.branch("main", "main", execution_trace)
    # Loop node runs by their path (scope + node id), so that a group finds its parent lane.
    loop_runs: dict[str, Row] = {}
    for row in rows:
        if row["type"] in containers:
            loop_runs[loop_group_of((row["scope"] + "/" if row["scope"] else "") + row["node_id"])] = row
    items: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if not row["scope"]:
            lane_id = lanes.branch(row["branch_id"], row["branch_name"], row["trace_id"])
            lanes.lanes[lane_id]["barCount"] += 1
            lane_of[row["id"]] = lane_id
        else:
            items[loop_group_of(row["scope"])][row["scope"]].append(row)

    def group_parent(group: str) -> str:
        outer, _, _ = group.rpartition("/")
        if outer:
            return ensure_group(outer)
        loop_row = loop_runs.get(group)
        if loop_row is not None and loop_row["id"] in lane_of:
            return lane_of[loop_row["id"]]
        return branch_lane_id("main")

    def ensure_group(group: str) -> str:
        loop_row = loop_runs.get(group) or {}
        parent = group_parent(group)
        return lanes.loop_group(
            group, parent, loop_row.get("node_id", group.rpartition("/")[2]), loop_row.get("name", ""),
            loop_row.get("trace_id", ""),
        )

    # Outer groups first, so that their lanes exist when a nested group looks for its parent.
    for group in sorted(items, key=lambda g: g.count("/")):
        group_lane = ensure_group(group)
        lane = lanes.lanes[group_lane]
        slot_free_at: list[datetime] = []
        by_start = sorted(items[group].values(), key=lambda runs: min(r["queued_at"] or now for r in runs))
        for runs in by_start:
            start = min(r["queued_at"] or now for r in runs)
            finished = all(r["finished_at"] is not None for r in runs)
            end = max((r["finished_at"] or now) for r in runs) if finished else now
            slot = next((i for i, free_at in enumerate(slot_free_at) if free_at <= start), None)
            if slot is None:
                slot = len(slot_free_at)
                slot_free_at.append(end)
            else:
                slot_free_at[slot] = end
            slot_lane = lanes.slot(group_lane, slot)
            lanes.lanes[slot_lane]["barCount"] += len(runs)
            lane["items"] += 1
            lane["barCount"] += len(runs)
            for row in runs:
                lane_of[row["id"]] = slot_lane
                lane["counts"][row["status"]] = lane["counts"].get(row["status"], 0) + 1
    return lane_of, lanes.ordered()


def add_loop_lengths(lanes: list[Row], rows: list[Row], item_counts: dict[str, int], containers: Any) -> None:
    """Give each loop lane its `itemCount`: the items of the latest run of its loop node in
    each scope (a nested loop's lane holds the items of every run of it, one per outer
    item). `item_counts`: each loop node run's number of items (engine.timeline)."""
    latest_loop_runs: dict[tuple[str, str], Row] = {}
    for row in rows:
        if row["type"] in containers:
            latest_loop_runs[(row["scope"], row["node_id"])] = row
    lengths: Counter[str] = Counter()
    for (scope, node_id), row in latest_loop_runs.items():
        if row["id"] in item_counts:
            lengths[f"loop:{loop_group_of((scope + '/' if scope else '') + node_id)}"] += item_counts[row["id"]]
    for lane in lanes:
        if lane["kind"] == "loop" and lane["id"] in lengths:
            lane["itemCount"] = lengths[lane["id"]]

