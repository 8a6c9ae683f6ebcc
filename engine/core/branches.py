"""Branch naming and hierarchical trace ids (SPEC §4.2), computed statically per scope.

A node with more than one outgoing edge (routing handles `true`/`false`/`error` aside)
fans out: each such edge starts a branch, numbered 1, 2, … in edge order and named by
`edges[].branch.name`, else `branch_a`, `branch_b`, …. A node with one predecessor stays
in that edge's branch; a join goes back to the branch its inputs share (their longest
common path). Paths are relative to the scope, so a loop item can prefix them with the
loop node's own path and trace.

Trace ids are unique within a run, since a trace id finds a branch or an item. So the
children of one branch are numbered across the scope: a second fan-out from the same branch
goes on from where the first stopped (3, 4 after 1, 2), and a loop whose branch also has
other children (a fan-out's branches, another loop) takes the next number after them for
its own run, so that its items (numbered under the loop node's trace) cannot take a
branch's trace id. A loop that is its branch's only child keeps that branch's trace: its
items are that branch's children, as they always were.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from engine.core.graph import Edge, Graph, Scope

Path = tuple[int, ...]


@dataclass(frozen=True)
class Branch:
    path: Path
    names: tuple[str, ...]  # the name of each level, so nested lanes can be shown

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else "main"

    def child(self, index: int, name: str) -> Branch:
        return Branch(self.path + (index,), self.names + (name,))


MAIN = Branch((), ())


def new_trace_id() -> str:
    return "trace-" + secrets.token_hex(3)


def branch_id(path: Path) -> str:
    return ".".join(str(i) for i in path) if path else "main"


def trace_for(base_trace: str, path: Path) -> str:
    return base_trace + "".join(f"-{i:03d}" for i in path)


def default_branch_name(index: int) -> str:
    """branch_a … branch_z, then branch_aa, branch_ab …"""
    letters = string.ascii_lowercase
    n = index
    name = ""
    while True:
        name = letters[n % 26] + name
        n = n // 26 - 1
        if n < 0:
            return "branch_" + name


def _common(branches: list[Branch]) -> Branch:
    first = branches[0]
    depth = 0
    while all(len(b.path) > depth and b.path[depth] == first.path[depth] for b in branches):
        depth += 1
    return Branch(first.path[:depth], first.names[:depth])


@dataclass
class BranchMap:
    """Per scope: the branch of every node and of every edge."""

    node: dict[str, Branch]
    edge: dict[str, Branch]
    # A loop (container) node whose run has a trace segment of its own (see the module's doc).
    own_trace: dict[str, int] = field(default_factory=dict)

    def join_key(self, edge: Edge, join_node: str) -> str:
        """The name an incoming edge of a join is known by (its branch just below the join's)."""
        below = self.edge[edge.id]
        depth = len(self.node[join_node].path)
        if len(below.path) > depth:
            return below.names[depth]
        return edge.source


def compute_branches(graph: Graph, scope: Scope) -> BranchMap:
    node_branch: dict[str, Branch] = {}
    edge_branch: dict[str, Branch] = {}
    numbered: dict[Path, int] = {}  # children numbered so far under each branch
    producers: dict[Path, int] = {}  # fan-outs and loops under each branch
    for node_id in scope.order:
        incoming = [e for e in scope.in_edges.get(node_id, []) if e.id in edge_branch]
        if not incoming:
            node_branch[node_id] = MAIN
        elif len(incoming) == 1:
            node_branch[node_id] = edge_branch[incoming[0].id]
        else:
            node_branch[node_id] = _common([edge_branch[e.id] for e in incoming])
        here = node_branch[node_id]
        outgoing = scope.out_edges.get(node_id, [])
        fanning = [e for e in outgoing if e.fans_out]
        for e in outgoing:
            edge_branch[e.id] = here
        if len(fanning) > 1:
            first = numbered.get(here.path, 0)
            for index, e in enumerate(fanning):
                name = (e.branch or {}).get("name") or default_branch_name(index)
                edge_branch[e.id] = here.child(first + index + 1, name)
            numbered[here.path] = first + len(fanning)
            producers[here.path] = producers.get(here.path, 0) + 1
        if node_id in graph.scopes:
            producers[here.path] = producers.get(here.path, 0) + 1
    # Loops number after every fan-out's branches, so a loop never moves a branch's number.
    own_trace: dict[str, int] = {}
    for node_id in scope.order:
        path = node_branch[node_id].path
        if node_id in graph.scopes and producers[path] > 1:
            numbered[path] = own_trace[node_id] = numbered.get(path, 0) + 1
    return BranchMap(node_branch, edge_branch, own_trace)
