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


def _load() -> None:
    # Import for the side effect of registration; each module registers one type.
    import importlib

    for module in (
        "start", "http", "transform", "merge", "condition", "loop", "delay",
        "approval", "log", "set", "output", "fail",
    ):
        try:
            importlib.import_module(f"engine.nodes.{module}")
        except ModuleNotFoundError as exc:  # a type still being built is simply absent
            if exc.name != f"engine.nodes.{module}":
                raise


_load()
