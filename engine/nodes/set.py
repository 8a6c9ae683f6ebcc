"""`set`: sets run variables; the runtime merges this node's output into `variables`."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeError, NodeType


@register
class SetNode(NodeType):
    type = "set"
    title = "Set Variables"
    category = "Data"
    description = "Sets run variables from `values` (templates allowed); later nodes read them as `{{variables.NAME}}`."
    config_schema = {
        "type": "object",
        "title": "Set Variables",
        "properties": {
            "values": {
                "type": "object",
                "title": "Values",
                "description": "Variable name → value; values may be `{{path}}` templates or any JSON.",
                "additionalProperties": True,
                "default": {},
            },
        },
        "required": ["values"],
    }
    defaults = {"values": {}}
    inline = True
    data_only = True

    def run(self, ctx: NodeContext) -> Any:
        values = ctx.config.get("values") or {}
        if not isinstance(values, dict):
            raise NodeError("`values` must be an object of variable names to values", retryable=False)
        return dict(values)
