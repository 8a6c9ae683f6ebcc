"""Node types, one module each; the registry maps a `type` name to its class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.nodes.base import NodeType

REGISTRY: dict[str, type[NodeType]] = {}


def register(cls: type[NodeType]) -> type[NodeType]:
    REGISTRY[cls.type] = cls
    return cls


def get_node_type(name: str) -> type[NodeType] | None:
    return REGISTRY.get(name)


def container_types(registry: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The types whose nodes hold a body of nodes (`NodeType.container`; the loop today):
    what graphs, timelines and redrives treat as a container, asked here rather than
    spelled as "loop" in each."""
    return frozenset(name for name, cls in (REGISTRY if registry is None else registry).items()
                     if getattr(cls, "container", False))


# One module per node type (SPEC §3 table order). A module that fails to import is an error
# at start-up, not a type that silently goes missing from the palette and the validator.
NODE_MODULES = (
    "start", "http", "transform", "merge", "condition", "loop", "delay",
    "approval", "log", "set", "output", "fail",
)


class NodeModuleError(ImportError):
    """A node type's module could not be imported."""


def _load(modules: tuple[str, ...] = NODE_MODULES, package: str = "engine.nodes") -> None:
    # Import for the side effect of registration; each module registers one type.
    import importlib

    for module in modules:
        try:
            importlib.import_module(f"{package}.{module}")
        except Exception as exc:
            raise NodeModuleError(f"node type module {package}.{module} failed to import: {exc}") from exc


_load()
