"""The workflow graph (SPEC §3): parsing, validation, and the per-scope views the
scheduler works on.

A definition has one top-level scope (the nodes without `parentId`) and one scope per
container (`loop`) holding its body. Edges never cross a scope boundary. Everything here
is computed once per workflow version and shared by all its executions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core import rules
from engine.core.bounded import BoundedCache

# Handles that choose a path instead of starting a branch: they never fan out.
ROUTING_HANDLES = frozenset({"true", "false", "error"})
TEMPLATE_REF = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# Names every template may start with besides node ids and the loop item variable.
BUILTIN_ROOTS = frozenset({"input", "variables", "parallel", "branch", "execution", "trace", "signal", "item"})


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
        return self.source_handle not in ROUTING_HANDLES


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
        super().__init__("; ".join(_issue_text(e) for e in errors))
        self.errors = errors


@dataclass
class ValidationReport:
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"errors": self.errors, "warnings": self.warnings}


def _issue_text(issue: Mapping[str, Any]) -> str:
    where = issue.get("nodeId") or issue.get("edgeId")
    return f"{where}: {issue['message']}" if where else str(issue["message"])


def _issue(message: str, *, node: str | None = None, edge: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message}
    if node is not None:
        out["nodeId"] = node
    if edge is not None:
        out["edgeId"] = edge
    return out


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
        for container in containers:
            self.scopes[container] = Scope(container, [n.id for n in nodes.values() if n.parent_id == container])
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

    def scope_of(self, node_id: str) -> Scope:
        return self.scopes[self.nodes[node_id].parent_id]


# Bounded: a long-lived engine sees many versions.
_CONFIG_PROBLEMS: BoundedCache[tuple[str, str], tuple[str, ...]] = BoundedCache(20_000)
_NODE_VALIDATORS: dict[type, tuple[dict[str, Any], Any]] = {}


def _config_problems(cls: Any, config: Mapping[str, Any]) -> tuple[str, ...]:
    """The schema problems of one node config (unknown keys, types, ranges). Remembered per
    (type, config): workflows repeat configs (a loop body, generated chains), and every run
    of a new version plans it again; schema validation is the costliest part of planning."""
    try:
        key = (cls.type, json.dumps(config, sort_keys=True, default=str))
    except (TypeError, ValueError):
        key = None
    if key is not None:
        remembered = _CONFIG_PROBLEMS.get(key)
        if remembered is not None:
            return remembered
    known = _NODE_VALIDATORS.get(cls)
    if known is None:
        schema = cls.full_schema()
        known = _NODE_VALIDATORS[cls] = (schema, rules.validator_for(schema))
    problems = tuple(rules.schema_problems(known[0], config, "config", known[1]))
    if key is not None:
        _CONFIG_PROBLEMS.put(key, problems)
    return problems


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


def validate_definition(definition: Any, node_types: Mapping[str, Any] | None = None) -> ValidationReport:
    """Check a SPEC §3 definition; every error names its node or edge."""
    if node_types is None:
        from engine.nodes import REGISTRY

        node_types = REGISTRY
    containers = _container_types(node_types)
    report = ValidationReport()
    err = report.errors
    if not isinstance(definition, Mapping):
        err.append(_issue("definition must be a JSON object"))
        return report
    version = definition.get("schemaVersion", 1)
    if version != 1:
        err.append(_issue(f"unsupported schemaVersion {version!r}; expected 1"))
    raw_nodes = definition.get("nodes")
    raw_edges = definition.get("edges", [])
    if not isinstance(raw_nodes, list):
        err.append(_issue("nodes must be a list"))
        return report
    if not isinstance(raw_edges, list):
        err.append(_issue("edges must be a list"))
        return report
    for key in definition:
        if key not in rules.DEFINITION_KEYS:
            err.append(_issue(_misplaced(str(key), "the definition", rules.DEFINITION_KEYS)))
    settings = definition.get("settings", {})
    if settings is not None and not isinstance(settings, Mapping):
        err.append(_issue("settings must be an object"))
    elif settings:
        err.extend(_issue(m) for m in rules.schema_problems(rules.SETTINGS_SCHEMA, settings, "settings"))

    nodes: dict[str, Mapping[str, Any]] = {}
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw.get("id"):
            err.append(_issue(f"nodes[{index}] must be an object with a non-empty string id"))
            continue
        node_id = raw["id"]
        if node_id in nodes:
            err.append(_issue(f"duplicate node id {node_id!r}", node=node_id))
            continue
        nodes[node_id] = raw
        for key in raw:
            if key not in rules.NODE_KEYS:
                err.append(_issue(_misplaced(str(key), "the node", rules.NODE_KEYS), node=node_id))
        node_type = raw.get("type")
        cls = node_types.get(node_type) if isinstance(node_type, str) else None
        if cls is None:
            err.append(_issue(f"unknown node type {node_type!r}", node=node_id))
            continue
        config = raw.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            err.append(_issue("config must be an object", node=node_id))
            continue
        for message in _config_problems(cls, config):
            err.append(_issue(message, node=node_id))
        if "name" in raw and not isinstance(raw["name"], str):
            err.append(_issue("name must be a string", node=node_id))

    for node_id, raw in nodes.items():
        parent = raw.get("parentId")
        if parent is None:
            continue
        parent_raw = nodes.get(parent)
        if parent_raw is None:
            err.append(_issue(f"parentId {parent!r} is not a node", node=node_id))
        elif parent_raw.get("type") not in containers:
            err.append(_issue(f"parentId {parent!r} is not a container (loop)", node=node_id))
        elif raw.get("type") == "start":
            err.append(_issue("a start node cannot sit inside a container", node=node_id))
    # Containers must not contain themselves through a parent chain.
    for node_id in nodes:
        seen = {node_id}
        parent = nodes[node_id].get("parentId")
        while isinstance(parent, str) and parent in nodes:
            if parent in seen:
                err.append(_issue("parentId chain forms a loop", node=node_id))
                break
            seen.add(parent)
            parent = nodes[parent].get("parentId")

    starts = [n for n, raw in nodes.items() if raw.get("type") == "start" and raw.get("parentId") is None]
    if len(starts) != 1:
        err.append(_issue(f"a workflow needs exactly one top-level start node; found {len(starts)}"))

    edge_ids: set[str] = set()
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw.get("id"):
            err.append(_issue(f"edges[{index}] must be an object with a non-empty string id"))
            continue
        edge_id = raw["id"]
        if edge_id in edge_ids:
            err.append(_issue(f"duplicate edge id {edge_id!r}", edge=edge_id))
            continue
        edge_ids.add(edge_id)
        for key in raw:
            if key not in rules.EDGE_KEYS:
                err.append(_issue(_misplaced(str(key), "the edge", rules.EDGE_KEYS), edge=edge_id))
        source, target = raw.get("source"), raw.get("target")
        ok = True
        for end, value in (("source", source), ("target", target)):
            if not isinstance(value, str) or value not in nodes:
                err.append(_issue(f"{end} {value!r} is not a node (dangling edge)", edge=edge_id))
                ok = False
        if not ok:
            continue
        assert isinstance(source, str) and isinstance(target, str)
        if nodes[source].get("parentId") != nodes[target].get("parentId"):
            err.append(_issue("edges must stay inside one container", edge=edge_id))
            continue
        if nodes[target].get("type") == "start":
            err.append(_issue("nothing may connect into a start node", edge=edge_id))
        handle = raw.get("sourceHandle")
        if handle is not None:
            source_type = nodes[source].get("type")
            cls = node_types.get(source_type) if isinstance(source_type, str) else None
            handles = set(getattr(cls, "output_handles", [])) | {"out", "error"}
            if handle not in handles:
                err.append(_issue(f"node {source!r} has no output handle {handle!r}", edge=edge_id))
            elif handle == "error" and (nodes[source].get("config") or {}).get("onError") != "route":
                report.warnings.append(
                    _issue("edge leaves the error handle but the node's onError is not 'route'", edge=edge_id)
                )
        branch = raw.get("branch")
        if branch is not None:
            err.extend(_issue(m, edge=edge_id) for m in rules.schema_problems(rules.BRANCH_SCHEMA, branch, "branch"))
        successors[source].append(target)

    cycle = find_cycle(list(nodes), successors)
    if cycle:
        err.append(_issue("cycle: " + " → ".join(cycle), node=cycle[0]))
    _placement_problems(definition, nodes, report, containers)

    if not err:
        _template_warnings(definition, nodes, report, containers)
        graph = Graph._build(definition)
        for scope in graph.scopes.values():
            if scope.container is not None and not scope.entries and scope.node_ids:
                err.append(_issue("loop body has no node without incoming edges", node=scope.container))
        settings = definition.get("settings") or {}
        handlers = {str(h.get("handler")) for h in (settings.get("signalHandlers") or {}).values()
                    if isinstance(h, Mapping) and h.get("action") == "custom"}
        for node in graph.nodes.values():
            if node.id in handlers:
                continue  # meant to sit alone: it runs when its signal comes
            if node.parent_id is None and node.type != "start" and node.id not in graph.scopes[None].order:
                report.warnings.append(_issue("not connected to Start, so it never runs in a normal run (only when a signal handler names it)", node=node.id))
    return report


def _misplaced(key: str, where: str, known: tuple[str, ...]) -> str:
    """An unknown key next to the node/edge/definition fields; a settings or config key
    put one level too high is pointed to where it belongs."""
    guess = rules.nearest(key, list(known))
    if guess is None and key in rules.SETTINGS_SCHEMA["properties"] and where == "the definition":
        guess = f"settings.{key}"
    if guess is None and where == "the node":
        guess = f"config.{key}"
    if guess is None and where == "the edge" and key in rules.BRANCH_SCHEMA["properties"]:
        guess = f"branch.{key}"
    if guess is not None:
        return f"unknown key '{key}' in {where} — did you mean '{guess}'?"
    return f"unknown key '{key}' in {where} (known keys: {', '.join(known)})"


def _in_degree(nodes: Mapping[str, Mapping[str, Any]], edges: list[Any]) -> dict[str, int]:
    degree = dict.fromkeys(nodes, 0)
    for raw in edges:
        degree[raw["target"]] += 1
    return degree


def _placement_problems(definition: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]],
                        report: ValidationReport, containers: frozenset[str]) -> None:
    """Policies and references that are well-formed but would do nothing where they are
    (SPEC §3: "a policy where it cannot apply is an error, not a no-op")."""
    err = report.errors
    # Only the well-formed edges: the others already have their own errors.
    edges = [e for e in definition.get("edges") or [] if isinstance(e, Mapping) and isinstance(e.get("id"), str)
             and e.get("source") in nodes and e.get("target") in nodes]
    degree = _in_degree(nodes, edges)
    fan_out: dict[str, int] = {}
    for raw in edges:
        if raw.get("sourceHandle") not in ROUTING_HANDLES:
            fan_out[raw["source"]] = fan_out.get(raw["source"], 0) + 1
    joins = {n for n, d in degree.items() if d > 1}
    loops = {n for n, raw in nodes.items() if raw.get("type") in containers}
    for node_id, raw in nodes.items():
        config = raw.get("config") or {}
        if not isinstance(config, Mapping):
            continue
        compensate = config.get("compensate")
        if isinstance(compensate, str) and compensate not in nodes:
            hint = rules.nearest(compensate, list(nodes))
            err.append(_issue(f"config.compensate: {compensate!r} is not a node"
                              + (f" — did you mean '{hint}'?" if hint else ""), node=node_id))
        policy = config.get("parallel")
        if isinstance(policy, Mapping) and raw.get("type") != "merge" and raw.get("type") not in containers and node_id not in joins:
            err.append(_issue(
                "config.parallel: a parallel policy applies where branches join (a merge, a loop, or a node "
                f"with several incoming edges); this node has {degree[node_id]} incoming edge(s)", node=node_id))
    for raw in edges:
        branch = raw.get("branch")
        if not isinstance(branch, Mapping) or not branch:
            continue
        starts_branch = raw.get("sourceHandle") not in ROUTING_HANDLES and fan_out.get(raw["source"], 0) > 1
        if starts_branch:
            continue
        why = ("it leaves a routing handle" if raw.get("sourceHandle") in ROUTING_HANDLES
               else f"its source {raw['source']!r} has no other outgoing edge")
        policy_keys = [k for k in rules.BRANCH_POLICY_KEYS if k in branch]
        if policy_keys:
            err.append(_issue(f"branch.{policy_keys[0]}: this edge does not start a branch ({why}); branch settings "
                              "apply to an edge of a fan-out — set it on the node instead", edge=raw["id"]))
        else:
            report.warnings.append(_issue(f"branch.name: this edge does not start a branch ({why}); the name is unused",
                                          edge=raw["id"]))
    settings = definition.get("settings") or {}
    if not isinstance(settings, Mapping):
        return
    if isinstance(settings.get("parallel"), Mapping) and not joins and not loops:
        err.append(_issue("settings.parallel: this workflow has no join (a node with several incoming edges) "
                          "and no loop for the parallel policy to govern"))
    handlers = settings.get("signalHandlers")
    if isinstance(handlers, Mapping):
        for name, handler in handlers.items():
            if not isinstance(handler, Mapping):
                continue
            action = handler.get("action")
            where = f"settings.signalHandlers.{name}"
            options = rules.HANDLER_OPTIONS.get(str(action), set())
            for key in ("cleanup", "rollback", "notify", "handler"):
                if key in handler and key not in options and action in rules.HANDLER_OPTIONS:
                    owner = next(a for a, keys in rules.HANDLER_OPTIONS.items() if key in keys)
                    err.append(_issue(f"{where}.{key}: applies only to action '{owner}', not '{action}'"))
            if action != "custom":
                continue
            target = handler.get("handler")
            if not isinstance(target, str) or not target:
                err.append(_issue(f"{where}: action 'custom' needs 'handler' (the node id to run)"))
            elif target not in nodes:
                hint = rules.nearest(target, list(nodes))
                err.append(_issue(f"{where}.handler: {target!r} is not a node"
                                  + (f" — did you mean '{hint}'?" if hint else "")))
            elif nodes[target].get("parentId") is not None:
                err.append(_issue(f"{where}.handler: {target!r} sits inside a loop; a signal handler must be a "
                                  "top-level node", node=target))
            elif nodes[target].get("type") == "start":
                err.append(_issue(f"{where}.handler: the start node cannot handle a signal", node=target))


def template_refs(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        for match in TEMPLATE_REF.finditer(value):
            yield match.group(1)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from template_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_refs(v)


def _template_warnings(
    definition: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], report: ValidationReport,
    containers: frozenset[str],
) -> None:
    item_variables = {
        (raw.get("config") or {}).get("itemVariable") or "item" for raw in nodes.values() if raw.get("type") in containers
    }
    output_variables = {
        (raw.get("config") or {}).get("outputVariable")
        for raw in nodes.values()
        if raw.get("type") in containers and (raw.get("config") or {}).get("outputVariable")
    }
    known = set(nodes) | BUILTIN_ROOTS | item_variables | output_variables
    for node_id, raw in nodes.items():
        for ref in template_refs(raw.get("config") or {}):
            root = re.split(r"[.\[]", ref, maxsplit=1)[0]
            if root not in known:
                report.warnings.append(_issue(f"template {{{{{ref}}}}} cannot resolve: unknown name {root!r}", node=node_id))
