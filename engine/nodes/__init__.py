"""Node types, one module each; the registry maps a `type` name to its class."""

from __future__ import annotations

from engine.nodes.base import NodeType

REGISTRY: dict[str, type[NodeType]] = {}


def register(cls: type[NodeType]) -> type[NodeType]:
    REGISTRY[cls.type] = cls
    return cls


def get_node_type(name: str) -> type[NodeType] | None:
    return REGISTRY.get(name)


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
