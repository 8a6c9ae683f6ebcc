"""Everything derived from a workflow version once and shared by all its executions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from engine.core.bounded import BoundedCache
from engine.core.branches import compute_branches
from engine.core.graph import Graph
from engine.core.scheduler import ScopePlan


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
