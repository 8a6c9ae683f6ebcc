"""`start`: the entry of a workflow; its output is the run's input."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeType


@register
class StartNode(NodeType):
    type = "start"
    title = "Start"
    category = "Flow"
    description = "Entry point of the workflow. Its output is the input the run was started with."
    config_schema = {"type": "object", "title": "Start", "properties": {}}
    inline = True

    def run(self, ctx: NodeContext) -> Any:
        return ctx.input
