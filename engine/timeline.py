"""The execution timeline (SPEC §8): bars, lanes and a summary computed from node runs.

`GET /api/executions/{id}/timeline` returns one bar per node-run attempt
`{nodeRunId, nodeId, name, branchId, branchName, traceId, lane, queuedAt, startedAt,
finishedAt, status, attempt, iteration}` (plus `type`, `container`, `critical`, and
`itemCount` on a loop node's bar: its number of items, from its `node.started` event), the
lanes they sit in (a loop's lane with `items` seen and `itemCount` in all), and a summary: wall time, sum of run times, achieved concurrency (sum
of run times / wall time), peak concurrency, the critical path, counts by status and the
intervals the run stood paused (`paused: [{from, to}]`).
`?nodeRun=<id>` returns that node run in full (input, output, error) with its log lines:
what the side panel shows when a bar is clicked.

Lanes (engine.timeline_lanes): one per branch, nested under its parent branch; a loop's
items grouped under the loop and spread over one lane per concurrent slot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.liveness import why_not_started
from engine.models import FINISHED_EXECUTION_STATUSES, STATUS_EVENT_TYPES, Event, Execution, NodeRun
from engine.node_run_pages import NodeRunSerializer, reused_context, source_deleted, status_counts
from engine.nodes import container_types
from engine.reuse import reused_of
from engine.selectors import execution_get
from engine.serializers import ExecutionSummarySerializer
from engine.timeline_lanes import Row, add_loop_lengths, assign_lanes

BAR_FIELDS = (
    "id", "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id", "branch_name",
    "trace_id", "queued_at", "started_at", "finished_at", "seq", "pinned",
)
LOG_LIMIT = 1000
NODE_RUN_ID_LENGTH = NodeRun._meta.get_field("id").max_length or 32



def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ms(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds() * 1000)


def critical_path(rows: list[Row], definition: dict[str, Any], now: datetime) -> list[str]:
    """Node runs on the longest dependency chain, ending at the node run that finished last.

    Walks back from that node run along the workflow's edges, at each step to the
    predecessor that finished last (the one that held the node up); a loop on the path
    contributes the chain of its last-finishing item. Every attempt of a node on the path
    is on it (retries cost time too).
    """
    containers = container_types()
    preds: dict[str, list[str]] = defaultdict(list)
    for edge in definition.get("edges") or []:
        if isinstance(edge, dict) and edge.get("source") and edge.get("target"):
            preds[str(edge["target"])].append(str(edge["source"]))
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row["scope"], row["node_id"])].append(row)

    def end(key: tuple[str, str]) -> datetime:
        return max(r["finished_at"] or now for r in groups[key])

    def chain(scope: str, node_id: str | None, path: list[str], seen: set[tuple[str, str]]) -> None:
        while node_id is not None and (scope, node_id) not in seen:
            key = (scope, node_id)
            seen.add(key)
            runs = groups[key]
            path.extend(r["id"] for r in runs)
            if runs[0]["type"] in containers:
                prefix = (scope + "/" if scope else "") + node_id + "#"
                item_keys = [k for k in groups if k[0].startswith(prefix) and "/" not in k[0][len(prefix):]]
                if item_keys:
                    last = max(item_keys, key=end)
                    chain(last[0], last[1], path, seen)
            candidates = [(scope, p) for p in preds.get(node_id, []) if (scope, p) in groups]
            node_id = max(candidates, key=end)[1] if candidates else None

    top = [key for key in groups if key[0] == ""]
    if not top:
        return []
    path: list[str] = []
    chain("", max(top, key=end)[1], path, set())
    order = {r["id"]: (r["queued_at"] or now, r["seq"]) for r in rows}
    return sorted(path, key=lambda run_id: order[run_id])


def _peak_concurrency(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    points: list[tuple[datetime, int]] = []
    for start, end in intervals:
        points.append((start, 1))
        points.append((end, -1))
    peak = running = 0
    # Ends sort before starts at the same instant: back-to-back runs are not concurrent.
    for _, delta in sorted(points, key=lambda p: (p[0], p[1])):
        running += delta
        peak = max(peak, running)
    return peak


def paused_intervals(execution: Execution) -> list[dict[str, str | None]]:
    """When the run stood paused: `[{from, to}]` from its pause and resume events (`to` is
    null while it is still paused; a run that ended while paused ends the interval)."""
    return timeline_events(execution, [])[0]


def of_types(types: tuple[str, ...]) -> str:
    """The condition of the partial index of status events (engine.models) as SQL text with
    the types written out: SQLite uses a partial index only when the query implies its
    condition, and `type IN (%s, %s)` with bound parameters does not (a single `type = %s`
    does; on PostgreSQL it makes no difference). The types are constants, never input."""
    assert all(t.replace(".", "").replace("_", "").isalnum() for t in types)
    quoted = ", ".join(f"'{t}'" for t in types)
    return f"{connection.ops.quote_name(Event._meta.db_table)}.{connection.ops.quote_name('type')} IN ({quoted})"


def timeline_events(execution: Execution, rows: list[Row]) -> tuple[list[dict[str, str | None]], dict[str, int]]:
    """What the timeline takes from the event log: the paused intervals
    (`paused_intervals`) and how many items each loop node run of `rows` has, by node run
    id, from the `itemCount` of its `node.started` event (the engine knows it once, when the
    loop starts). Each read goes through a partial index (engine.models `Event.Meta`) and
    touches only the rows it returns: the run's status events, and the start events of the
    loop node runs drawn — never the run's whole event log."""
    containers = container_types()
    loop_runs = [row["id"] for row in rows if row["type"] in containers]
    item_counts: dict[str, int] = {}
    for chunk in range(0, len(loop_runs), 500):
        # The partial index of loop starts (`node.started` with data): one row per loop run.
        started = Event.objects.filter(execution=execution, node_run_id__in=loop_runs[chunk:chunk + 500],
                                       type="node.started", data__isnull=False)
        # Ordered by seq, not by the model's default (execution, seq): that one joins the
        # execution table to sort by its own ordering.
        started = started.order_by("seq")
        for node_run_id, data in started.values_list("node_run_id", "data"):
            if isinstance(data, dict) and isinstance(data.get("itemCount"), int):
                item_counts[node_run_id] = int(data["itemCount"])
    events = (Event.objects.filter(execution=execution).extra(where=[of_types(STATUS_EVENT_TYPES)])
              .order_by("seq").values_list("type", "ts"))
    out: list[dict[str, str | None]] = []
    for type_, ts in events:
        if type_ == "signal":
            continue  # in the same index (the signal log's); a pause is its own event
        is_open = bool(out) and out[-1]["to"] is None
        if type_ == "execution.paused" and not is_open:
            out.append({"from": _iso(ts), "to": None})
        elif type_ != "execution.paused" and is_open:
            out[-1]["to"] = _iso(ts)
    return out, item_counts


def build_timeline(execution: Execution, rows: list[Row], *, now: datetime | None = None,
                   paused: list[dict[str, str | None]] | None = None,
                   item_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The timeline of an execution from its node-run rows (`BAR_FIELDS` dicts);
    `item_counts`: each loop node run's number of items (`timeline_events`)."""
    now = now or timezone.now()
    item_counts = item_counts or {}
    containers = container_types()
    finished = execution.status in FINISHED_EXECUTION_STATUSES
    definition = execution.version.definition or {}
    lane_of, lanes = assign_lanes(rows, execution.trace_id, now)
    critical = critical_path(rows, definition, now)
    critical_ids = set(critical)

    redrives = redrive_history(execution)
    boundaries = [r["sinceSeq"] for r in redrives]

    def redrive_of(seq: int) -> int:
        """0 for the first attempt of the execution, n for node runs of its n-th redrive."""
        return sum(1 for since in boundaries if seq > since)

    run_intervals: list[tuple[datetime, datetime]] = []
    bars: list[Row] = []
    reused_from, reused_nodes = reused_of(execution.state)
    for row in rows:
        container = row["type"] in containers
        if row["started_at"] is not None and not container:
            # A container's span is its items' time; counting it too would double it.
            run_intervals.append((row["started_at"], row["finished_at"] or (execution.finished_at or now)))
        bars.append({
            "nodeRunId": row["id"], "nodeId": row["node_id"], "name": row["name"] or row["node_id"],
            "type": row["type"], "branchId": row["branch_id"], "branchName": row["branch_name"],
            "traceId": row["trace_id"], "lane": lane_of[row["id"]], "queuedAt": _iso(row["queued_at"]),
            "startedAt": _iso(row["started_at"]), "finishedAt": _iso(row["finished_at"]), "status": row["status"],
            "attempt": row["attempt"], "iteration": row["iteration"], "container": container,
            "critical": row["id"] in critical_ids, "redrive": redrive_of(row["seq"]),
            "pinned": bool(row.get("pinned")),
            # An earlier run's output (engine.reuse): that run's id.
            "reusedFrom": reused_from if row.get("pinned") and not row["scope"] and row["node_id"] in reused_nodes
            else None,
        })
        if container and row["id"] in item_counts:
            bars[-1]["itemCount"] = item_counts[row["id"]]
    add_loop_lengths(lanes, rows, item_counts, containers)

    starts = [t for row in rows for t in (row["queued_at"], row["started_at"]) if t is not None]
    wall_start = execution.started_at or (min(starts) if starts else None)
    wall_end = execution.finished_at if finished else now
    if finished and wall_end is None:
        wall_end = max((row["finished_at"] for row in rows if row["finished_at"]), default=wall_start)
    wall_ms = _ms(wall_start, wall_end)
    run_ms = sum(_ms(start, end) for start, end in run_intervals)
    by_id = {row["id"]: row for row in rows}
    critical_runs = [by_id[i] for i in critical if by_id[i]["type"] not in containers]
    summary = {
        "wallTimeMs": round(wall_ms, 1),
        "runTimeMs": round(run_ms, 1),
        "achievedConcurrency": round(run_ms / wall_ms, 2) if wall_ms > 0 else 0.0,
        "peakConcurrency": _peak_concurrency(run_intervals),
        "criticalPath": critical,
        "criticalPathRunTimeMs": round(sum(_ms(r["started_at"], r["finished_at"] or now) for r in critical_runs), 1),
        "counts": dict(Counter(row["status"] for row in rows)),
        "nodeRuns": len(rows),
        "startedAt": _iso(wall_start),
        "finishedAt": _iso(execution.finished_at),
        "paused": paused or [],
    }
    return {
        "execution": ExecutionSummarySerializer(execution).data,
        "definition": {"nodes": definition.get("nodes") or [], "edges": definition.get("edges") or [],
                       "settings": definition.get("settings") or {}},
        "lastSeq": execution.last_seq,
        "generatedAt": now.isoformat(),
        "bars": bars,
        "lanes": lanes,
        "summary": summary,
        "redrives": redrives,
        # "Run to here": the node this run stops at (engine.core.run_until), or null.
        "runUntil": run_until if isinstance(run_until := (execution.state or {}).get("runUntil"), str) else None,
        # The run whose outputs this one reused for `reused` nodes (engine.reuse), or null.
        "reusedFrom": reused_from, "reused": sorted(reused_nodes),
        # The source run may since have been deleted (by hand or by retention): the page then
        # says so rather than linking to a page that is not found.
        "reusedFromDeleted": reused_from is not None and source_deleted(execution, reused_from),
    }


def truncated_timeline(execution: Execution, rows: list[Row], *, paused: list[dict[str, str | None]] | None = None,
                       item_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The timeline of the first node runs only, with `truncated` saying so: the bars,
    lanes, critical path and run-time figures are those of `rows`; the counts per status
    and `summary.nodeRuns` are the whole execution's (from the database's index)."""

    timeline = build_timeline(execution, rows, paused=paused, item_counts=item_counts)
    counts = status_counts(execution)
    total = sum(counts.values())
    timeline["summary"]["counts"] = counts
    timeline["summary"]["nodeRuns"] = total
    timeline["truncated"] = {
        "bars": len(rows), "nodeRuns": total,
        "detail": f"The first {len(rows)} of {total} node runs are drawn; "
                  f"GET /api/executions/{execution.pk}/node-runs lists them all, a page at a time.",
    }
    return timeline


def redrive_history(execution: Execution) -> list[dict[str, Any]]:
    """The redrives of an execution, oldest first: `{number, sinceSeq, at, version,
    fromVersion, by}` (node runs with a seq above `sinceSeq` belong to that redrive or a later
    one; `version` is the one it ran, `fromVersion` the one the run had before it, `by` who
    asked; the last three are null for redrives recorded before they were kept)."""
    redrive = (execution.state or {}).get("redrive") or {}
    return [
        {"number": int(h.get("number", i + 1)), "sinceSeq": int(h.get("sinceSeq", 0)), "at": h.get("at"),
         "version": h.get("version"), "fromVersion": h.get("fromVersion"), "by": h.get("by")}
        for i, h in enumerate(redrive.get("history") or [])
    ]


def node_run_detail(execution: Execution, node_run_id: str) -> dict[str, Any] | None:
    node_run = NodeRun.objects.filter(execution=execution, pk=node_run_id).first()
    if node_run is None:
        return None
    # Through the partial index of log lines, by node run: this node run's lines only.
    logs = Event.objects.filter(execution=execution, node_run_id=node_run_id, type="log").order_by("seq")[:LOG_LIMIT]
    return {
        "nodeRun": NodeRunSerializer(node_run, context={"reused": reused_context(execution, [node_run])}).data,
        "scope": node_run.scope,
        "logs": [event.as_message() for event in logs],
    }


class TimelineView(APIView):
    """`GET /api/executions/{id}/timeline` (owner only; 404 for others; staff see all)."""

    @extend_schema(
        parameters=[OpenApiParameter("nodeRun", OpenApiTypes.STR, description="one node run in full, with its logs")],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="No such execution (or not yours)")},
    )
    def get(self, request: Request, execution_id: str) -> Response:
        node_run_id = request.query_params.get("nodeRun")
        # Its input, output and error sized in the database and read only when small
        # (engine.execution_values): the summary carries them cut.
        execution = execution_get(request.user, execution_id, values=not node_run_id)
        if node_run_id:
            # Never cut to a node run id's 32 characters: "<a real id>zz" showed that real node run.
            detail = node_run_detail(execution, node_run_id) if len(node_run_id) <= NODE_RUN_ID_LENGTH else None
            if detail is None:
                return Response({"detail": "No such node run in this execution."}, status=404)
            return Response(detail)
        # The execution (and its lastSeq) is read before the node runs: the rows are then at
        # least as new as lastSeq, and events streamed after it only move bars forward.
        # At most FLOWMAESTRO_TIMELINE_MAX_BARS bars (the first, in creation order): a
        # 1,000,000-item loop must not make one answer of a million bars.
        max_bars = int(getattr(settings, "FLOWMAESTRO_TIMELINE_MAX_BARS", 5000))
        rows = list(NodeRun.objects.filter(execution=execution).order_by("seq").values(*BAR_FIELDS)[: max_bars + 1])
        paused, counts = timeline_events(execution, rows[:max_bars])
        if len(rows) <= max_bars:
            timeline = build_timeline(execution, rows, paused=paused, item_counts=counts)
        else:
            timeline = truncated_timeline(execution, rows[:max_bars], paused=paused, item_counts=counts)
        # A queued run's page says why nothing starts it, when it can tell (engine.liveness).
        timeline["notStartedBecause"] = why_not_started() if execution.status == "queued" else None
        timeline["redriveOffer"] = _redrive_offer(execution)
        return Response(timeline)


def _redrive_offer(execution: Execution) -> dict[str, Any] | None:
    """What "Redrive failed" offers when failed work of this ended run was replayed from its
    dead letters as other executions (engine.redrive_replays.redrive_offer); None otherwise, and
    for a run that has not ended — one `exists()` query for most runs."""
    from engine.core.graph import Graph
    from engine.redrive_replays import redrive_offer
    from engine.store.dead_letters import latest_replayed_elsewhere

    if execution.status not in FINISHED_EXECUTION_STATUSES:
        return None
    letters = latest_replayed_elsewhere(execution)
    if not letters:
        return None
    rows = list(NodeRun.objects.filter(execution=execution).order_by("seq").values("scope", "node_id", "status", "seq"))
    return redrive_offer(execution, Graph.from_definition(execution.version.definition), rows, letters)
