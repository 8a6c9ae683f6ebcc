"""The workflow graph (SPEC §3): parsing, validation of its shape (ids, parents, edges,
cycles; the rules beyond the shape are in `engine.core.definition_checks`), and the
per-scope views the scheduler works on.

A definition has one top-level scope (the nodes without `parentId`) and one scope per
container (`loop`) holding its body. Edges never cross a scope boundary. Everything here
is computed once per workflow version and shared by all its executions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core import rules
from engine.core.definition_checks import (
    ValidationReport,
    config_problems,
    issue,
    issue_text,
    loop_name_problems,
    misplaced,
    placement_problems,
    template_warnings,
)


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    name: str
    config: Mapping[str, Any]
    parent_id: str | None = None


@dataclass(frozen=True)
class Edge:
    id: str
    source: str
    target: str
    source_handle: str | None = None
    branch: Mapping[str, Any] | None = None

    @property
    def fans_out(self) -> bool:
        return self.source_handle not in rules.ROUTING_HANDLES


@dataclass
class Scope:
    """The nodes and edges of one level: the top-level graph or one container's body."""

    container: str | None
    node_ids: list[str]
    out_edges: dict[str, list[Edge]] = field(default_factory=dict)
    in_edges: dict[str, list[Edge]] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)
    # Nodes reachable from the entries, in a topological order; nodes that nothing
    # reaches (a custom signal handler sitting alone on the canvas) are not run.
    order: list[str] = field(default_factory=list)

    def sinks(self) -> list[str]:
        return [n for n in self.order if not self.out_edges.get(n)]


class DefinitionError(ValueError):
    """Raised by `Graph.from_definition` when the definition has errors."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(issue_text(e) for e in errors))
        self.errors = errors


class Graph:
    """A validated definition with adjacency per scope."""

    def __init__(self, definition: Mapping[str, Any], nodes: dict[str, Node], edges: list[Edge]):
        self.definition = definition
        self.nodes = nodes
        self.edges = edges
        self.settings: Mapping[str, Any] = definition.get("settings") or {}
        self.scopes: dict[str | None, Scope] = {}
        container_types = _container_types()
        containers = {None} | {n.id for n in nodes.values() if n.type in container_types}
        # One pass over the nodes, in their order: a list per container built by scanning every
        # node was quadratic (6,000 nested loops: 36 million checks).
        members: dict[str | None, list[str]] = {container: [] for container in containers}
        for n in nodes.values():
            if n.parent_id in members:
                members[n.parent_id].append(n.id)
        for container in containers:
            self.scopes[container] = Scope(container, members[container])
        for node in nodes.values():
            scope = self.scopes[node.parent_id]
            scope.out_edges.setdefault(node.id, [])
            scope.in_edges.setdefault(node.id, [])
        for edge in edges:
            scope = self.scopes[nodes[edge.source].parent_id]
            scope.out_edges[edge.source].append(edge)
            scope.in_edges[edge.target].append(edge)
        for scope in self.scopes.values():
            if scope.container is None:
                scope.entries = [n for n in scope.node_ids if nodes[n].type == "start"]
            else:
                scope.entries = [n for n in scope.node_ids if not scope.in_edges[n]]
            scope.order = _reachable_topological(scope)

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Graph:
        report = validate_definition(definition)
        if report.errors:
            raise DefinitionError(report.errors)
        return cls._build(definition)

    @classmethod
    def _build(cls, definition: Mapping[str, Any]) -> Graph:
        nodes = {
            n["id"]: Node(
                id=n["id"],
                type=n["type"],
                name=n.get("name") or n["id"],
                config=n.get("config") or {},
                parent_id=n.get("parentId"),
            )
            for n in definition["nodes"]
        }
        edges = [
            Edge(
                id=e["id"],
                source=e["source"],
                target=e["target"],
                source_handle=e.get("sourceHandle"),
                branch=e.get("branch"),
            )
            for e in definition["edges"]
        ]
        return cls(definition, nodes, edges)


def _container_types(node_types: Mapping[str, Any] | None = None) -> frozenset[str]:
    from engine.nodes import container_types

    return container_types(node_types)


def _reachable_topological(scope: Scope) -> list[str]:
    """Kahn's algorithm restricted to what the entries reach."""
    reachable: set[str] = set()
    stack = list(scope.entries)
    while stack:
        n = stack.pop()
        if n in reachable:
            continue
        reachable.add(n)
        stack.extend(e.target for e in scope.out_edges.get(n, []))
    indegree = {n: sum(1 for e in scope.in_edges.get(n, []) if e.source in reachable) for n in reachable}
    ready = [n for n in scope.node_ids if n in reachable and indegree[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for e in scope.out_edges.get(n, []):
            indegree[e.target] -= 1
            if indegree[e.target] == 0:
                ready.append(e.target)
    return order


def find_cycle(node_ids: Iterable[str], successors: Mapping[str, list[str]]) -> list[str] | None:
    """Return one cycle as a path `[a, b, …, a]`, or None (iterative DFS, three colours)."""
    colour: dict[str, int] = {}
    for root in node_ids:
        if colour.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                colour[node] = 1
                path.append(node)
            succ = successors.get(node, [])
            if i < len(succ):
                stack.append((node, i + 1))
                nxt = succ[i]
                if colour.get(nxt) == 1:
                    return path[path.index(nxt) :] + [nxt]
                if not colour.get(nxt):
                    stack.append((nxt, 0))
            else:
                colour[node] = 2
                path.pop()
    return None


def _is_position(value: Any) -> bool:
    """`{"x": number, "y": number}` on the canvas: the editor reads anything else as NaN and
    draws the node nowhere, where it can be neither seen nor selected."""
    if not isinstance(value, Mapping) or set(value) != {"x", "y"}:
        return False
    # NaN and infinities fail the comparison too; a huge int compares exactly (no overflow).
    return all(isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= rules.MAX_POSITION
               for v in value.values())


_IN_A_LOOP = -2  # the "depth" of a node whose parent chain runs into a cycle (-1 is above the top)


def _nesting_problems(nodes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Containers must not contain themselves through a parent chain (every node whose chain
    runs into such a cycle is named), nor nest deeper than `rules.MAX_NESTING`.

    Each node's depth is worked out once and reused by the nodes below it: walking every
    node's chain to the top was quadratic (a 6,000-deep chain of loops, 520 KB of JSON, took
    6.7 s of an HTTP thread per save, validation and run), and the engine starts nested
    items recursively, so a 400-deep one failed its run with a RecursionError."""
    depth: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    for node_id in nodes:
        path: list[str] = []
        on_path: set[str] = set()
        current: Any = node_id
        while isinstance(current, str) and current in nodes and current not in depth and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = nodes[current].get("parentId")
        if isinstance(current, str) and (current in on_path or depth.get(current) == _IN_A_LOOP):
            below = _IN_A_LOOP
        elif isinstance(current, str):
            below = depth.get(current, -1)  # resolved above, or a parent that is not a node
        else:
            below = -1  # the top level (or a parentId that is not even a string: named elsewhere)
        for index, member in enumerate(reversed(path)):
            depth[member] = _IN_A_LOOP if below == _IN_A_LOOP else below + 1 + index
    for node_id in nodes:
        if depth[node_id] == _IN_A_LOOP:
            problems.append(issue("parentId chain forms a loop", node=node_id))
        elif depth[node_id] == rules.MAX_NESTING + 1:  # the first node too deep on its chain
            problems.append(issue(f"containers nest at most {rules.MAX_NESTING} deep; this node is "
                                  f"inside {depth[node_id]} of them", node=node_id))
    return problems


def validate_definition(definition: Any, node_types: Mapping[str, Any] | None = None) -> ValidationReport:
    """Check a SPEC §3 definition; every error names its node or edge."""
    if node_types is None:
        from engine.nodes import REGISTRY

        node_types = REGISTRY
    containers = _container_types(node_types)
    report = ValidationReport()
    err = report.errors
    if not isinstance(definition, Mapping):
        err.append(issue("definition must be a JSON object"))
        return report
    version = definition.get("schemaVersion", 1)
    if version != 1:
        err.append(issue(f"unsupported schemaVersion {version!r}; expected 1"))
    raw_nodes = definition.get("nodes")
    raw_edges = definition.get("edges", [])
    if not isinstance(raw_nodes, list):
        err.append(issue("nodes must be a list"))
        return report
    if not isinstance(raw_edges, list):
        err.append(issue("edges must be a list"))
        return report
    for key in definition:
        if key not in rules.DEFINITION_KEYS:
            err.append(issue(misplaced(str(key), "the definition", rules.DEFINITION_KEYS)))
    settings = definition.get("settings", {})
    if settings is not None and not isinstance(settings, Mapping):
        err.append(issue("settings must be an object"))
    elif settings:
        err.extend(issue(m) for m in rules.schema_problems(rules.SETTINGS_SCHEMA, settings, "settings"))

    nodes: dict[str, Mapping[str, Any]] = {}
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw.get("id"):
            err.append(issue(f"nodes[{index}] must be an object with a non-empty string id"))
            continue
        node_id = raw["id"]
        if len(node_id) > rules.MAX_NODE_ID_LENGTH:
            err.append(issue(f"a node id is at most {rules.MAX_NODE_ID_LENGTH} characters; this one has {len(node_id)}",
                             node=node_id))
        if any(separator in node_id for separator in rules.NODE_ID_SEPARATORS):
            err.append(issue(f"a node id cannot hold {' or '.join(map(repr, rules.NODE_ID_SEPARATORS))} "
                             f"(runs name loop items as loop#3/inner#0); {node_id!r} does", node=node_id))
        if node_id in nodes:
            err.append(issue(f"duplicate node id {node_id!r}", node=node_id))
            continue
        nodes[node_id] = raw
        for key in raw:
            if key not in rules.NODE_KEYS:
                err.append(issue(misplaced(str(key), "the node", rules.NODE_KEYS), node=node_id))
        if "name" in raw and not isinstance(raw["name"], str):
            err.append(issue("name must be a string", node=node_id))
        elif len(raw.get("name", "")) > rules.MAX_NODE_NAME_LENGTH:
            err.append(issue(f"a node name is at most {rules.MAX_NODE_NAME_LENGTH} characters; "
                             f"this one has {len(raw['name'])}", node=node_id))
        if raw.get("position") is not None and not _is_position(raw["position"]):
            err.append(issue(f"position must be {{\"x\": number, \"y\": number}}, each within "
                             f"±{int(rules.MAX_POSITION):,}", node=node_id))
        node_type = raw.get("type")
        cls = node_types.get(node_type) if isinstance(node_type, str) else None
        if cls is None:
            err.append(issue(f"unknown node type {node_type!r}", node=node_id))
            continue
        config = raw.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            err.append(issue("config must be an object", node=node_id))
            continue
        for message in config_problems(cls, config):
            err.append(issue(message, node=node_id))

    for node_id, raw in nodes.items():
        parent = raw.get("parentId")
        if parent is None:
            continue
        # Looked up only as a string: a list or object here (unhashable) was a 500.
        parent_raw = nodes.get(parent) if isinstance(parent, str) else None
        if parent_raw is None:
            kind = "array" if isinstance(parent, list) else "object"
            shown = repr(parent[:120]) if isinstance(parent, str) else (
                repr(parent) if isinstance(parent, int | float) else f"(a JSON {kind})")
            err.append(issue(f"parentId {shown} is not a node", node=node_id))
        elif not isinstance(parent_raw.get("type"), str) or parent_raw.get("type") not in containers:
            err.append(issue(f"parentId {parent!r} is not a container (loop)", node=node_id))
        elif raw.get("type") == "start":
            err.append(issue("a start node cannot sit inside a container", node=node_id))
    err.extend(_nesting_problems(nodes))

    starts = [n for n, raw in nodes.items() if raw.get("type") == "start" and raw.get("parentId") is None]
    if len(starts) != 1:
        err.append(issue(f"a workflow needs exactly one top-level start node; found {len(starts)}"))

    edge_ids: set[str] = set()
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw.get("id"):
            err.append(issue(f"edges[{index}] must be an object with a non-empty string id"))
            continue
        edge_id = raw["id"]
        if edge_id in edge_ids:
            err.append(issue(f"duplicate edge id {edge_id!r}", edge=edge_id))
            continue
        edge_ids.add(edge_id)
        for key in raw:
            if key not in rules.EDGE_KEYS:
                err.append(issue(misplaced(str(key), "the edge", rules.EDGE_KEYS), edge=edge_id))
        source, target = raw.get("source"), raw.get("target")
        ok = True
        for end, value in (("source", source), ("target", target)):
            if not isinstance(value, str) or value not in nodes:
                err.append(issue(f"{end} {value!r} is not a node (dangling edge)", edge=edge_id))
                ok = False
        if not ok:
            continue
        assert isinstance(source, str) and isinstance(target, str)
        if nodes[source].get("parentId") != nodes[target].get("parentId"):
            err.append(issue("edges must stay inside one container", edge=edge_id))
            continue
        if nodes[target].get("type") == "start":
            err.append(issue("nothing may connect into a start node", edge=edge_id))
        handle = raw.get("sourceHandle")
        if handle is not None:
            source_type = nodes[source].get("type")
            cls = node_types.get(source_type) if isinstance(source_type, str) else None
            handles = set(getattr(cls, "output_handles", [])) | {"out", "error"}
            if not isinstance(handle, str) or handle not in handles:
                err.append(issue(f"node {source!r} has no output handle {repr(handle)[:120]}", edge=edge_id))
            elif handle == "error" and (nodes[source].get("config") or {}).get("onError") != "route":
                report.warnings.append(
                    issue("edge leaves the error handle but the node's onError is not 'route'", edge=edge_id)
                )
        branch = raw.get("branch")
        if branch is not None:
            err.extend(issue(m, edge=edge_id) for m in rules.schema_problems(rules.BRANCH_SCHEMA, branch, "branch"))
        successors[source].append(target)

    cycle = find_cycle(list(nodes), successors)
    if cycle:
        err.append(issue("cycle: " + " → ".join(cycle), node=cycle[0]))
    placement_problems(definition, nodes, report, containers)
    loop_name_problems(nodes, report, containers)

    if not err:
        template_warnings(definition, nodes, report, containers)
        graph = Graph._build(definition)
        for scope in graph.scopes.values():
            if scope.container is not None and not scope.entries and scope.node_ids:
                err.append(issue("loop body has no node without incoming edges", node=scope.container))
        settings = definition.get("settings") or {}
        handlers = {str(h.get("handler")) for h in (settings.get("signalHandlers") or {}).values()
                    if isinstance(h, Mapping) and h.get("action") == "custom"}
        for node in graph.nodes.values():
            if node.id in handlers:
                continue  # meant to sit alone: it runs when its signal comes
            if node.parent_id is None and node.type != "start" and node.id not in graph.scopes[None].order:
                report.warnings.append(issue("not connected to Start, so it never runs in a normal run (only when a signal handler names it)", node=node.id))
    return report
