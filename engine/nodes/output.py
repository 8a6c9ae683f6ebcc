"""`output`: contributes `value` to the run's output (keyed by the node's name)."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeType


@register
class OutputNode(NodeType):
    type = "output"
    title = "Output"
    category = "Flow"
    description = "The run's output is the object of all output nodes' `value`, keyed by node name."
    config_schema = {
        "type": "object",
        "title": "Output",
        "properties": {
            "value": {
                "title": "Value",
                "description": "Any JSON; a whole `{{path}}` keeps its type, e.g. `{{results}}`.",
                "default": "{{input}}",
            },
        },
    }
    defaults = {"value": "{{input}}"}
    inline = True

    def run(self, ctx: NodeContext) -> Any:
        return ctx.config.get("value")
