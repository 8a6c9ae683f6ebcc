""""Run to here": a test run that stops at one node (n8n's "execute step").

Only that node and the nodes it needs run — every top-level node it can be reached from —
so a fan-out's other branches, the join after it and the Output never start: no HTTP call
made, no side effect, nothing to wait for. Each of them settles `skipped` with the reason,
and the run's output is the node's own. A node inside a loop's body is reached through its
loop: the run goes up to the loop, which runs whole.

The node is fixed when the run is recorded (`runUntil` in the execution's state), so a
takeover or a redrive of the run stops at the same place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.core.scheduler import Outcome

if TYPE_CHECKING:
    from engine.core.plan import VersionPlan
    from engine.core.scheduler import Actions
    from engine.core.scopes import ScopeRun


@dataclass(frozen=True)
class RunUntil:
    node: str  # the top-level node the run stops at (a body node's loop)
    asked: str  # the node the user chose
    on_the_way: frozenset[str]  # it and every top-level node it can be reached from

    @classmethod
    def of(cls, plan: VersionPlan, asked: Any) -> RunUntil | None:
        nodes = plan.graph.nodes
        if not isinstance(asked, str) or asked not in nodes:
            return None  # checked when the run was asked for; a stale state runs whole
        node, seen = asked, {asked}
        while (parent := nodes[node].parent_id) is not None and parent not in seen:
            node = parent
            seen.add(node)
        top = plan.scopes[None]
        return cls(node, asked, top.ancestors(node) | {node})

    def leave_out(self, scope: ScopeRun, actions: Actions) -> None:
        """Take the nodes past the stop out of `actions.ready`: each is skipped, and so is
        whatever only they lead to (a join among them may become ready in turn)."""
        while True:
            beyond = [n for n in actions.ready if n not in self.on_the_way]
            if not beyond:
                return
            actions.ready = [n for n in actions.ready if n in self.on_the_way]
            for node_id in beyond:
                actions.skipped.append((node_id, f"not on the way to {self.node}: this run stops there (Run to here)"))
                actions.extend(scope.sched.finish(node_id, Outcome("skipped")))
