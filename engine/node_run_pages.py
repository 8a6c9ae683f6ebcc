"""Bounded node-run lists for the execution API (SPEC §7, issue 12).

A 1,000,000-item loop has millions of node runs: answering them in one response took
261 MB and 72 s and left daphne at 5 GB. So every answer that lists node runs is bounded:

- `GET /api/executions/{id}` carries `nodeRuns` whole while there are at most
  `FLOWMAESTRO_NODE_RUNS_INLINE` (1,000) of them; beyond that, the first page. It always
  carries `nodeRunCounts` (per status, from the database's index, not from the rows) and
  `nodeRunsNext`: the URL of the next page, or null when `nodeRuns` is whole.
- `GET /api/executions/{id}/node-runs?nodeId=&status=&cursor=&limit=` pages through them in
  creation order (`seq`), `limit` at most `MAX_PAGE_SIZE`.
- a page also ends once its JSON reaches `FLOWMAESTRO_PAGE_MAX_BYTES` (4 MB; at least one
  node run per page), since one node run may carry a large output; an `input`, `output`
  or `error` over an eighth of that (a big loop's output: every item's result) is
  replaced by `{"truncated": true, "size", "url"}`, the URL giving that node run whole
  (`…/timeline?nodeRun=<id>`). The database measures those fields and hands over only
  the small ones (engine.json_sizes): a page never decodes a big one.

Cursor pagination, not page numbers: a running execution keeps adding node runs, and a
cursor (the last `seq`, `id` seen) neither skips nor repeats one while it grows; it is also
one index range scan however deep the page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine.json_sizes import bounded, with_json_sizes
from engine.models import Execution, NodeRun, NodeRunStatus
from flowmaestro.request_bodies import JSONBooleanField, shown_values


class NodeRunSerializer(serializers.ModelSerializer[NodeRun]):
    """A node run as the API shows it (SPEC §7): in every page, the timeline's whole one."""

    nodeId = serializers.CharField(source="node_id")
    branchId = serializers.CharField(source="branch_id")
    branchName = serializers.CharField(source="branch_name")
    traceId = serializers.CharField(source="trace_id")
    queuedAt = serializers.DateTimeField(source="queued_at", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    # Its output is pinned test data: the node did not run (engine.models.NodeRun.pinned).
    pinned = JSONBooleanField(read_only=True)
    # Its pinned output is an earlier run's (engine.reuse): that run's id, else null.
    reusedFrom = serializers.SerializerMethodField()
    # That run has since been deleted (by hand or by retention): shown without a link.
    reusedFromDeleted = serializers.SerializerMethodField()

    class Meta:
        model = NodeRun
        fields = [
            "id", "nodeId", "name", "type", "status", "attempt", "iteration", "branchId", "branchName",
            "traceId", "queuedAt", "startedAt", "finishedAt", "input", "output", "error", "pinned",
            "reusedFrom", "reusedFromDeleted",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_reusedFrom(self, node_run: NodeRun) -> int | None:
        # context["reused"]: a `Reused` of the execution (`reused_context`).
        reused = self.context.get("reused") or NOT_REUSED
        return reused.source if node_run.pinned and not node_run.scope and node_run.node_id in reused.nodes else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_reusedFromDeleted(self, node_run: NodeRun) -> bool:
        reused = self.context.get("reused") or NOT_REUSED
        return reused.source_deleted and self.get_reusedFrom(node_run) is not None


@extend_schema_field(OpenApiTypes.ANY)
class _BoundedNodeRunField(serializers.Field):  # type: ignore[type-arg]
    """A node run's `input`, `output` or `error` in a page: whole up to `value_cap()`
    bytes, else `{"truncated": true, "size", "url"}` (read through `with_json_sizes`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, node_run: NodeRun) -> Any:
        return bounded(node_run, str(self.field_name), cap=value_cap(),
                       url=lambda: f"/api/executions/{node_run.execution_id}/timeline?nodeRun={node_run.pk}")


class NodeRunPageSerializer(NodeRunSerializer):
    """A node run as a page carries it: its large fields cut."""

    input = _BoundedNodeRunField()  # type: ignore[assignment]
    output = _BoundedNodeRunField()  # type: ignore[assignment]
    error = _BoundedNodeRunField()  # type: ignore[assignment]


MAX_PAGE_SIZE = 1000
_CURSOR = re.compile(r"^([0-9]{1,10})\.([0-9A-Za-z_-]{1,32})$")  # [0-9]: \d takes "٣" too


def inline_limit() -> int:
    return int(getattr(settings, "FLOWMAESTRO_NODE_RUNS_INLINE", 1000))


def page_size() -> int:
    return min(MAX_PAGE_SIZE, int(getattr(settings, "FLOWMAESTRO_NODE_RUNS_PAGE_SIZE", 500)))


def page_max_bytes() -> int:
    return int(getattr(settings, "FLOWMAESTRO_PAGE_MAX_BYTES", 4_000_000))


def value_cap() -> int:
    """The largest JSON value (bytes) an answer carries whole: a node run's field in a page,
    an execution's input or output (engine.execution_values). An eighth of a page."""
    return page_max_bytes() // 8


class BadCursor(ValueError):
    pass


def encode_cursor(seq: int, node_run_id: str) -> str:
    return f"{seq}.{node_run_id}"


def decode_cursor(text: str) -> tuple[int, str]:
    match = _CURSOR.match(text or "")
    if match is None:
        raise BadCursor("cursor is not one this server gave out")
    return int(match.group(1)), match.group(2)


def status_counts(execution: Execution) -> dict[str, int]:
    """Node runs per status: one GROUP BY over the (execution, status) index."""
    rows = NodeRun.objects.filter(execution=execution).order_by().values_list("status").annotate(n=Count("id"))
    return {status: int(n) for status, n in rows}


def node_status_counts(execution: Execution) -> dict[str, dict[str, int]]:
    """Node runs per node and status: what the canvas badges need when `nodeRuns` is only
    a page (bounded by the number of nodes in the definition, not by the item count)."""
    rows = (NodeRun.objects.filter(execution=execution).order_by()
            .values_list("node_id", "status").annotate(n=Count("id")))
    out: dict[str, dict[str, int]] = {}
    for node_id, status, n in rows:
        out.setdefault(node_id, {})[status] = int(n)
    return out


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def node_run_page(
    execution: Execution,
    *,
    limit: int,
    after: tuple[int, str] | None = None,
    node_id: str | None = None,
    statuses: list[str] | None = None,
) -> Page:
    """Up to `limit` node runs after the cursor `after`, in creation order, and the cursor
    of the next page (None: there is none). Ends early at `page_max_bytes()` of JSON."""
    qs = NodeRun.objects.filter(execution=execution)
    if node_id:
        qs = qs.filter(node_id=node_id)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if after is not None:
        seq, last_id = after
        qs = qs.filter(Q(seq__gt=seq) | Q(seq=seq, id__gt=last_id))
    qs = with_json_sizes(qs, ("input", "output", "error"), cap=value_cap())
    fetched = list(qs.order_by("seq", "id")[: limit + 1])
    more = len(fetched) > limit
    fetched = fetched[:limit]
    # One list serializer for the page: a serializer per row costs ~10x more (DRF copies
    # its fields for every instance).
    data = NodeRunPageSerializer(fetched, many=True, context={"reused": reused_context(execution, fetched)}).data
    budget = page_max_bytes()
    rows: list[dict[str, Any]] = []
    size = 0
    for row in data:
        weight = len(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
        if rows and size + weight > budget:
            more = True
            break
        rows.append(row)
        size += weight
    last = fetched[len(rows) - 1] if rows else None
    next_cursor = encode_cursor(last.seq, last.id) if more and last is not None else None
    return Page(rows=rows, next_cursor=next_cursor)


class Reused(NamedTuple):
    """The run an execution reused outputs from (engine.reuse), its reused nodes, and whether
    that run has since been deleted."""

    source: int | None
    nodes: frozenset[str]
    source_deleted: bool


NOT_REUSED = Reused(None, frozenset(), False)


def reused_context(execution: Execution, node_runs: list[NodeRun]) -> Reused:
    """What `NodeRunSerializer.get_reusedFrom` needs: read only when a node run is pinned
    (the execution's state may be deferred: a query of its own), and whether the source run
    still exists only when one of these node runs was reused."""
    from engine.reuse import reused_of

    if not any(r.pinned for r in node_runs):
        return NOT_REUSED
    source, nodes = reused_of(execution.state)
    if source is None or not any(r.node_id in nodes and not r.scope for r in node_runs if r.pinned):
        return Reused(source, nodes, False)
    return Reused(source, nodes, source_deleted(execution, source))


def source_deleted(execution: Execution, source: int) -> bool:
    """Whether the run `execution` reused outputs from has since been deleted (by hand or by
    retention): the pages then show its number without a link."""
    return not Execution.objects.filter(pk=source, owner_id=execution.owner_id).exists()


def node_runs_url(execution_id: Any, cursor: str, **filters: Any) -> str:
    """The URL of the next page, relative to the server (the same filters, the new cursor)."""
    params = {key: value for key, value in filters.items() if value not in (None, "")}
    params["cursor"] = cursor
    return f"/api/executions/{execution_id}/node-runs?{urlencode(params)}"


def valid_statuses(raw: str) -> list[str]:
    """`status=failed,timed_out` → the list; ValueError naming what is not a status."""
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(NodeRunStatus.values))
    if unknown:
        raise ValueError(f"unknown status {shown_values(unknown)}; one of {', '.join(NodeRunStatus.values)}")
    return wanted


def execution_node_runs(execution: Execution) -> dict[str, Any]:
    """The node-run part of `GET /api/executions/{id}`: `nodeRuns` (whole up to
    `inline_limit()`, else the first page), `nodeRunCounts`, `nodeRunsNext`, and, when the
    list is only a page, `nodeRunCountsByNode`."""
    counts = status_counts(execution)
    total = sum(counts.values())
    whole = total <= inline_limit()
    page = node_run_page(execution, limit=max(total, 1) if whole else page_size())
    out: dict[str, Any] = {
        "nodeRuns": page.rows,
        "nodeRunCounts": counts,
        "nodeRunsNext": node_runs_url(execution.pk, page.next_cursor) if page.next_cursor else None,
    }
    if page.next_cursor:
        out["nodeRunCountsByNode"] = node_status_counts(execution)
    return out
