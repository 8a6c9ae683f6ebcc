"""What templates and expressions can see from a node run (SPEC §4.2, §5)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.core.execution import ExecutionRun, ScopeRun


class TemplateContext(Mapping[str, Any]):
    """Lazy view: `input`, `variables`, `parallel`, `branch`, `execution`, `trace`,
    `signal`, loop item variables and node outputs by id, searched from the node's scope
    outwards. Nothing is copied, so rendering a template costs only its look-ups."""

    __slots__ = ("ex", "scope", "node_input", "branch", "trace_id")

    def __init__(self, ex: ExecutionRun, scope: ScopeRun, node_input: Any, branch: dict[str, str], trace_id: str):
        self.ex = ex
        self.scope = scope
        self.node_input = node_input
        self.branch = branch
        self.trace_id = trace_id

    def __getitem__(self, key: str) -> Any:
        if key == "input":
            return self.node_input
        if key == "variables":
            return self.ex.variables
        if key == "branch":
            return self.branch
        if key == "execution":
            return {"id": self.ex.id, "traceId": self.ex.trace_id}
        if key == "trace":
            return {"id": self.trace_id}
        if key == "signal":
            return self.ex.signal
        scope: ScopeRun | None = self.scope
        while scope is not None:
            if key in scope.locals:
                return scope.locals[key]
            if key in scope.outputs:
                return scope.outputs[key]
            alias = scope.aliases.get(key)
            if alias is not None and alias in scope.outputs:
                return scope.outputs[alias]
            scope = scope.parent
        if key == "parallel":
            return {}
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key in ("input", "variables", "branch", "execution", "trace", "signal", "parallel"):
            seen.add(key)
            yield key
        scope: ScopeRun | None = self.scope
        while scope is not None:
            for mapping in (scope.locals, scope.outputs, scope.aliases):
                for key in list(mapping):
                    if key not in seen:
                        seen.add(key)
                        yield key
            scope = scope.parent

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def bindings(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """A plain dict snapshot for the JavaScript sandbox: of `names` only when given
        (see `referenced_names`), else of everything visible."""
        out: dict[str, Any] = {}
        for key in self if names is None else names:
            try:
                out[key] = self[key]
            except KeyError:
                continue
        return out


_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


@lru_cache(maxsize=4096)
def _identifiers(code: str) -> frozenset[str]:
    return frozenset(_IDENTIFIER.findall(code))


def referenced_names(config: Mapping[str, Any], fields: Iterable[str]) -> frozenset[str]:
    """Every identifier-shaped word in the JavaScript of `fields`: a superset of the
    variables the code can read by name. Snapshotting only these keeps a node's set-up
    O(its code) instead of O(everything upstream) — in a 1,000-node chain the difference
    between linear and quadratic. (Code that looks names up dynamically, e.g.
    `globalThis[name]`, sees only the names it also mentions.)"""
    names: set[str] = set()
    for field in fields:
        value = config.get(field)
        if isinstance(value, str):
            names |= _identifiers(value)
    return frozenset(names)
