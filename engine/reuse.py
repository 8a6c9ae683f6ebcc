""""Run to here" that reuses the last run's outputs (n8n's partial execution).

A test run to one node (`runUntil`) may name a finished run of the same workflow
(`reuseFrom`): the nodes before the stop whose outputs that run produced, and whose inputs
cannot have changed since, are not run again — their outputs are copied into the new run's
pinned data (`ExecutionPins`) when it is recorded, so they succeed at once exactly as
pinned nodes do (engine.core.attempts), and a takeover, a redrive or a retry uses the same
data. The state keeps which nodes they are (`state["reused"]`), so the API, the live event
and the timeline say `reusedFrom` on their node runs.

A node is reused when it is a top-level node before the stop (not the stop itself), its
definition is the same in both versions (its position on the canvas aside), its latest
node run in that run succeeded (a redrive's included), its type can be pinned, its output fits the pin bound
(FLOWMAESTRO_PINNED_DATA_MAX_BYTES), and each node it gets input from is reused too — or,
for nodes that cannot be pinned (Start, a condition, a merge, a loop), is unchanged and so
runs again on unchanged inputs to the same output (not an approval, nor a loop whose body
has a pinnable node: `_may_answer_differently`). A changed node runs again, and so does everything after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db.models import F

from editor.models import Workflow, WorkflowVersion
from engine.core.graph import Graph
from engine.errors import Refusal
from engine.models import FINISHED_EXECUTION_STATUSES, Execution, NodeRun
from engine.nodes import get_node_type
from flowmaestro.visibility import visible


class ReuseRefused(Refusal):
    status_code = 400


class ReuseNotFinished(Refusal):
    status_code = 409


class ReuseNotFound(Refusal):
    # Another user's run looks exactly like one that does not exist.
    status_code = 404


_LAYOUT = ("position", "width", "height", "selected")


class _Shapes:
    """What decides each node's output besides its inputs, for one definition: the node
    without where it sits on the canvas, the edges into it (a new edge is a new input), for
    a loop its body, and the workflow's variables when its config names them. Indexed once:
    scanning the whole definition for each node made a reuse request quadratic (4 s of CPU
    for a 3,000-node chain)."""

    def __init__(self, definition: Mapping[str, Any]):
        nodes = [n for n in definition.get("nodes") or [] if isinstance(n, dict)]
        self.nodes: dict[Any, dict[str, Any]] = {}
        self.children: dict[Any, list[dict[str, Any]]] = {}
        for n in nodes:
            self.nodes.setdefault(n.get("id"), n)
            self.children.setdefault(n.get("parentId"), []).append(n)
        self.edges: dict[Any, list[tuple[str, str, str]]] = {}
        for e in definition.get("edges") or []:
            if isinstance(e, dict):
                self.edges.setdefault(e.get("target"), []).append(
                    (str(e.get("source")), str(e.get("sourceHandle")), str(e.get("targetHandle"))))
        settings_ = definition.get("settings")
        self.variables = settings_.get("variables") if isinstance(settings_, dict) else None

    def of(self, node_id: str, seen: frozenset[str] = frozenset()) -> Any:
        node = self.nodes.get(node_id)
        if node is None:
            return None
        body = sorted((str(n.get("id")), repr(self.of(str(n.get("id")), seen | {node_id})))
                      for n in self.children.get(node_id, []) if n.get("id") not in seen)
        # The workflow's variables (`settings.variables`) are read by name from a node's
        # expressions: a node that names them answers otherwise when they change.
        variables = self.variables if "variables" in json.dumps(node.get("config"), default=str) else None
        return ({k: v for k, v in node.items() if k not in _LAYOUT}, sorted(self.edges.get(node_id, [])), body,
                variables)


def _top_of(graph: Graph, node_id: str) -> str:
    """The top-level node a run to `node_id` stops at (a body node's outermost loop)."""
    top, seen = node_id, {node_id}
    while (parent := graph.nodes[top].parent_id) is not None and parent not in seen:
        top = parent
        seen.add(top)
    return top


def reusable_nodes(*, before: Mapping[str, Any], now: Mapping[str, Any], run_until: str,
                   outputs: Iterable[str], pinned: Iterable[str] = (), same_pins: Iterable[str] = (),
                   sizes: Mapping[str, int] | None = None, budget: int | None = None) -> list[str]:
    """The nodes of `now` (a definition) a run to `run_until` may take from a run of `before`
    whose usable outputs are those of `outputs` (node ids), in run order. `pinned`: nodes
    with explicit pinned data in the new run: never reused (their pin wins), and, as their
    output may not be the one that run saw, what follows them runs again — unless they are
    among `same_pins` (their pin is the output that run had). `budget`: the bytes the reused
    outputs may take together (`sizes`: each one's); a node past it runs again, as one
    whose output was not kept does."""
    graph = Graph.from_definition(now)  # a valid version: checked before
    top = _top_of(graph, run_until)
    scope = graph.scopes[None]
    have, explicit, same = set(outputs), set(pinned), set(same_pins)
    shapes_before, shapes_now = _Shapes(before), _Shapes(now)
    children: dict[str | None, list[str]] = {}
    for n, node in graph.nodes.items():
        children.setdefault(node.parent_id, []).append(n)
    settled: set[str] = set()  # unchanged, with unchanged inputs: reused, or run again to the same output
    reused: list[str] = []
    for node_id in scope.order:
        if node_id == top:
            break
        parents = [e.source for e in scope.in_edges.get(node_id, [])]
        if (node_id in explicit and node_id not in same) or any(p not in settled for p in parents):
            continue
        if shapes_before.of(node_id) != shapes_now.of(node_id):
            continue
        if node_id in explicit:
            settled.add(node_id)  # its pin is what that run output: not reused, yet no change
            continue
        cls = get_node_type(graph.nodes[node_id].type)
        if cls is not None and cls.pinnable:
            size = (sizes or {}).get(node_id) or 0
            if node_id in have and (budget is None or size <= budget):
                reused.append(node_id)
                settled.add(node_id)
                budget = None if budget is None else budget - size
            # A pinnable node that runs again (no output kept, or too big) may answer
            # differently (an HTTP call): what follows it runs again.
        elif not _may_answer_differently(graph, children, node_id):
            settled.add(node_id)
    return reused


def _may_answer_differently(graph: Graph, children: Mapping[str | None, list[str]], node_id: str) -> bool:
    """Whether `node_id`, run again on unchanged inputs, may output something else: a gate
    (its decision is made anew), or a loop whose body has a node that may (an HTTP call in
    the body answers again, and the loop's output with it). `children`: by parent id."""
    def may(n: str) -> bool:
        cls = get_node_type(graph.nodes[n].type)
        return graph.nodes[n].type in ("approval", "wait") or (cls is not None and cls.pinnable)

    seen, todo = {node_id}, [node_id]
    while todo:  # every node inside it, nested loops' included
        n = todo.pop()
        if may(n):
            return True
        todo.extend(c for c in children.get(n, []) if c not in seen)
        seen.update(children.get(n, []))
    return False


def source_execution(*, workflow: Workflow, user: Any, execution_id: int) -> Execution:
    """The run to reuse: one of this workflow's runs that `user` may read (owns, or staff:
    the same rule as reading it, flowmaestro.visibility), finished."""
    found = (visible(Execution.objects.filter(pk=execution_id, workflow_id=workflow.pk), user)
             .select_related("version").only("id", "status", "input", "state", "workflow_id", "version__definition",
                                             "version__number").first())
    if found is None:
        raise ReuseNotFound(f"reuseFrom: no execution {execution_id} of this workflow")
    if found.status not in FINISHED_EXECUTION_STATUSES:
        raise ReuseNotFinished(f"reuseFrom: execution {execution_id} is {found.status}: only a finished run's "
                               "outputs can be reused (wait for it to end, or run without reuse)")
    return found


def reused_outputs(*, source: Execution, version: WorkflowVersion, run_until: str, input: Any,
                   pinned: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], str | None]:
    """({node id: output} to reuse, why nothing is reused or None). `pinned`: the explicit
    pins the run uses ({node id: data}): they win over reused outputs."""
    nodes, rows, why = _reusable(source=source, definition=version.definition, run_until=run_until, input=input,
                                 pinned=pinned)
    data = dict(NodeRun.objects.filter(pk__in=[rows[n] for n in nodes]).values_list("node_id", "output"))
    outputs = {n: data[n] for n in nodes if n in data}
    return outputs, None if outputs else why or f"no node before {run_until} can be reused from run #{source.pk}"


def reusable_from(*, source: Execution, definition: Mapping[str, Any], run_until: str, input: Any,
                  pinned: Mapping[str, Any] | None = None) -> tuple[list[str], str | None]:
    """What `reused_outputs` would reuse on `definition` (the nodes, in run order, and why
    none or None), without reading an output: the Run dialog's preview, asked before a run."""
    nodes, _, why = _reusable(source=source, definition=definition, run_until=run_until, input=input, pinned=pinned)
    return nodes, why


def _reusable(*, source: Execution, definition: Mapping[str, Any], run_until: str, input: Any,
              pinned: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any], str | None]:
    """(the nodes to reuse in run order, {node id: the pk of its node run to copy}, why none
    is reused or None)."""
    if (source.input if source.input is not None else {}) != input:
        return [], {}, f"the input differs from run #{source.pk}'s: nothing is reused"
    before = source.version.definition if source.version is not None else {}
    graph = Graph.from_definition(definition)
    candidates = [n for n in graph.scopes[None].order if n != run_until]
    # The latest top-level run of each (a redriven run has several), when it succeeded: an
    # older success after which a redrive (maybe on a changed version) failed is not what
    # that run has now. Measured in the database first: an output over the pin bound runs
    # again, and is never read.
    limit = settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES
    from engine.json_sizes import JSONTextBytes

    rows = (NodeRun.objects.filter(execution_id=source.pk, scope="", node_id__in=candidates)
            .annotate(output_bytes=JSONTextBytes(F("output"))).order_by("seq")
            .values_list("node_id", "output_bytes", "pk", "status", "seq"))
    last = {node_id: (size, pk, status, seq) for node_id, size, pk, status, seq in rows}
    stale = _run_on_other_definitions(source, before, {n: seq for n, (_, _, _, seq) in last.items()})
    latest = {node_id: (size, pk) for node_id, (size, pk, status, _) in last.items()
              if status == "succeeded" and node_id not in stale}
    fitting = {node_id: pk for node_id, (size, pk) in latest.items() if (size or 0) <= limit}
    # Explicit pins that are the output that run had (it used the same pin, or the pin was
    # made from its data) leave what follows them reusable.
    pins = dict(pinned) if isinstance(pinned, Mapping) else {}
    kept = dict(NodeRun.objects.filter(pk__in=[pk for n, pk in fitting.items() if n in pins]).values_list("node_id", "output"))
    same = [n for n, output in kept.items() if pins[n] == output]
    # All of a run's pins are stored in one row (ExecutionPins), bounded as explicit pins
    # are: reuse copies without running anything, so without it each click could copy
    # every big output of the source run once more. Explicit pins come out of it first.
    budget = settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW * limit - sum(
        len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()) for data in pins.values())
    nodes = reusable_nodes(before=before, now=definition, run_until=run_until, outputs=fitting,
                           pinned=pins, same_pins=same, sizes={n: size or 0 for n, (size, _) in latest.items()},
                           budget=max(budget, 0))
    return list(nodes), fitting, None if nodes else f"no node before {run_until} can be reused from run #{source.pk}"


def _run_on_other_definitions(source: Execution, definition: Mapping[str, Any], seqs: Mapping[str, int]) -> set[str]:
    """The nodes of `seqs` ({node id: its row's seq}) whose row ran on a version where the
    node was not what it is in `definition` (the source's version now). A redrive on
    "latest" moves the run to that version but keeps the rows it does not re-run: they ran
    on the version before, which its history names (`state["redrive"]["history"]`)."""
    redrive = source.state.get("redrive") if isinstance(source.state, dict) else None
    history = [h for h in (redrive.get("history") or []) if isinstance(h, dict)] if isinstance(redrive, dict) else []
    current = source.version.number if source.version is not None else None

    def ran_on(seq: int) -> Any:
        # Rows up to a redrive's `sinceSeq` were recorded before it, on its `fromVersion`.
        return next((h.get("fromVersion") for h in history if seq <= int(h.get("sinceSeq") or 0)), current)

    versions = {n: ran_on(seq) for n, seq in seqs.items()}
    others = {v for v in versions.values() if v != current}
    if not others:
        return set()
    definitions = dict(WorkflowVersion.objects.filter(workflow_id=source.workflow_id, number__in=others)
                       .values_list("number", "definition"))
    shapes, now = {v: _Shapes(d) for v, d in definitions.items()}, _Shapes(definition)
    return {n for n, v in versions.items() if v != current and (v not in shapes or shapes[v].of(n) != now.of(n))}


def reused_of(state: Any) -> tuple[int | None, frozenset[str]]:
    """(the run reused, its reused nodes) of an execution's state."""
    reused = state.get("reused") if isinstance(state, dict) else None
    if not isinstance(reused, dict) or not isinstance(reused.get("from"), int):
        return None, frozenset()
    return reused["from"], frozenset(n for n in reused.get("nodes") or [] if isinstance(n, str))


def not_reused(pinned: dict[str, Any] | None, reused: dict[str, Any]) -> dict[str, Any] | None:
    """A run's pins without its reused outputs (`reused`: its `state["reused"]`): its
    explicit pins only ({} still marks a test run: `execution_pinned`), or None."""
    _, nodes = reused_of({"reused": reused})
    return None if pinned is None else {n: v for n, v in pinned.items() if n not in nodes}


def still_reusable(execution: Execution, chosen: WorkflowVersion, run_until: Any, pinned: Any,
                    reused: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The pins and reused nodes of a retry on `chosen` of a run that reused outputs: the
    reused nodes changed since (or after a change) run again. `chosen`: a valid version that
    has the node `run_until`."""
    source, nodes = reused_of({"reused": reused})
    before = execution.version.definition if execution.version is not None else {}
    explicit = [n for n in pinned if n not in nodes]
    keep = set(reusable_nodes(before=before, now=chosen.definition, run_until=str(run_until),
                              outputs=nodes, pinned=explicit))
    pinned = {n: v for n, v in pinned.items() if n not in nodes or n in keep} or None
    return pinned, ({"from": source, "nodes": [n for n in reused["nodes"] if n in keep]} if keep else None)
