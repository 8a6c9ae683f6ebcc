"""Everything derived from a workflow version once and shared by all its executions: the
graph, and per scope the plan its schedulers read (joins and their policies, who governs
a failure, the sections a race join cancels, branches with settings of their own)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.bounded import BoundedCache
from engine.core.branches import BranchMap, compute_branches
from engine.core.graph import Edge, Graph, Scope
from engine.core.policies import JoinPolicy, NodePolicy, join_policy

# Node states inside the scheduler (persisted statuses are richer; these are enough there).
PENDING, READY, RUNNING, DONE = "pending", "ready", "running", "done"


@dataclass(frozen=True)
class BranchSpec:
    """A branch whose fan-out edge carries branch-wide settings (`edges[].branch`): they
    hold for the branch as a whole, from its first node to its last (SPEC §4.3)."""

    edge: Edge
    name: str
    first: str
    order: tuple[str, ...]  # its nodes, in topological order (nested branches included)
    timeout_ms: int | None
    on_timeout: str  # cancel | continue | error
    retry: Any
    on_error: str  # fail | continue

    @property
    def max_attempts(self) -> int:
        return max(1, int((self.retry or {}).get("maxAttempts", 1) or 1))


class ScopePlan:
    """What the scheduler needs about a scope, computed once per workflow version."""

    def __init__(self, graph: Graph, scope: Scope, branches: BranchMap):
        self.graph = graph
        self.scope = scope
        self.branches = branches
        reachable = set(scope.order)
        self.in_edges: dict[str, list[Edge]] = {
            n: [e for e in scope.in_edges.get(n, []) if e.source in reachable] for n in scope.order
        }
        self.joins = {n for n, edges in self.in_edges.items() if len(edges) > 1}
        self.initial_state: dict[str, str] = dict.fromkeys(scope.order, PENDING)
        self.initial_remaining: dict[str, int] = {n: len(self.in_edges[n]) for n in scope.order}
        default = graph.settings.get("parallel")
        self.policies: dict[str, JoinPolicy] = {
            n: join_policy(graph.nodes[n].type, graph.nodes[n].config, default) for n in self.joins
        }
        # Per join, every node it is reachable from: O(joins × nodes), where a full
        # downstream closure would be O(nodes²) even for a plain chain without joins.
        self.upstream: dict[str, frozenset[str]] = {j: self.ancestors(j) for j in self.joins}
        self.governor: dict[str, str | None] = dict.fromkeys(scope.order)
        position = {n: i for i, n in enumerate(scope.order)}
        # The governor of a node: the nearest join downstream that closes a branch it is in.
        for join in sorted(self.joins, key=position.__getitem__, reverse=True):
            depth = len(branches.node[join].path)
            for n in self.upstream[join]:
                if len(branches.node[n].path) > depth:
                    self.governor[n] = join
        self._sections: dict[str, list[str]] = {}
        # Filled lazily by the execution (engine.core.execution.node_ready); plans are
        # shared by every run of a version, and so are these.
        self.node_policies: dict[str, NodePolicy] = {}
        # Joins with a `parallel.totalTimeout`, by the section nodes whose start opens it.
        self.deadline_joins: dict[str, list[str]] = {}
        for join, policy in self.policies.items():
            if policy.total_timeout_ms:
                for n in self.section(join):
                    self.deadline_joins.setdefault(n, []).append(join)
        # Branches with settings of their own: by first node, and by member (innermost last).
        self.branch_first: dict[str, list[BranchSpec]] = {}
        self.branch_member: dict[str, list[BranchSpec]] = {}
        for spec in self._branch_specs():
            self.branch_first.setdefault(spec.first, []).append(spec)
            for n in spec.order:
                self.branch_member.setdefault(n, []).append(spec)

    def _branch_specs(self) -> list[BranchSpec]:
        specs = []
        for n in self.scope.order:
            for edge in self.scope.out_edges.get(n, ()):
                settings = edge.branch or {}
                if not any(k in settings for k in ("timeout", "onTimeout", "retry", "onError")):
                    continue
                path = self.branches.edge[edge.id].path
                if len(path) <= len(self.branches.node[n].path):
                    continue  # the edge starts no branch (validation says so)
                members = tuple(m for m in self.scope.order if self.branches.node[m].path[:len(path)] == path)
                if edge.target not in members:
                    continue  # straight into a join: an empty branch
                timeout = settings.get("timeout")
                specs.append(BranchSpec(
                    edge=edge, name=self.branches.edge[edge.id].name, first=edge.target, order=members,
                    timeout_ms=int(timeout) if timeout else None,
                    on_timeout=str(settings.get("onTimeout") or "error"), retry=settings.get("retry") or {},
                    on_error=str(settings.get("onError") or "fail"),
                ))
        # Outer branches first, so the innermost one of a node is the last of its list.
        return sorted(specs, key=lambda spec: len(self.branches.edge[spec.edge.id].path))

    def ancestors(self, node: str) -> frozenset[str]:
        seen: set[str] = set()
        stack = [node]
        while stack:
            for edge in self.in_edges.get(stack.pop(), ()):
                if edge.source not in seen:
                    seen.add(edge.source)
                    stack.append(edge.source)
        return frozenset(seen)

    def section(self, join: str) -> list[str]:
        """Nodes in the branches that `join` brings together."""
        if join not in self._sections:
            depth = len(self.branches.node[join].path)
            upstream = self.upstream[join]
            self._sections[join] = [
                n
                for n in self.scope.order
                if n in upstream and len(self.branches.node[n].path) > depth
            ]
        return self._sections[join]


class VersionPlan:
    def __init__(self, definition: Mapping[str, Any]):
        self.graph = Graph.from_definition(definition)
        self.scopes: dict[str | None, ScopePlan] = {
            key: ScopePlan(self.graph, scope, compute_branches(self.graph, scope))
            for key, scope in self.graph.scopes.items()
        }
        settings = self.graph.settings
        self.max_concurrency = int(settings.get("maxConcurrency") or 32)
        self.timeout_ms = int(settings["timeout"]) if settings.get("timeout") else None
        self.variables: dict[str, Any] = dict(settings.get("variables") or {})
        parallel = settings.get("parallel")
        self.default_parallel: dict[str, Any] | None = dict(parallel) if isinstance(parallel, Mapping) else None
        self.output_nodes = [n for n in self.scopes[None].scope.order if self.graph.nodes[n].type == "output"]


class PlanCache:
    """Plans keyed by the definition's content: the graph work happens once per distinct
    definition (a duplicated workflow or an unchanged re-save shares its plan)."""

    def __init__(self, size: int = 256):
        self._plans: BoundedCache[str, VersionPlan] = BoundedCache(size)

    def get(self, definition: Mapping[str, Any] | None, text: str | None = None) -> VersionPlan:
        """The plan of `definition`, or of `text` (its stored JSON) when given: the text is
        its own key (the stored text of equal definitions is equal), so a hit parses nothing."""
        if text is not None:
            key = "t:" + text
        else:
            assert definition is not None
            key = hashlib.sha1(json.dumps(definition, sort_keys=True, default=str).encode(),
                               usedforsecurity=False).hexdigest()
        plan = self._plans.get(key)
        if plan is None:
            plan = VersionPlan(definition if definition is not None else json.loads(text or "null"))
            self._plans.put(key, plan)
        return plan
