"""`fail`: raises `message` (for tests, demos and error paths)."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeError, NodeType


@register
class FailNode(NodeType):
    type = "fail"
    title = "Fail"
    category = "Utility"
    description = "Fails the node run with `message` (subject to retry and onError like any failure)."
    config_schema = {
        "type": "object",
        "title": "Fail",
        "properties": {
            "message": {
                "type": "string",
                "title": "Message",
                "description": "The error message; `{{path}}` templates are filled in.",
                "default": "Failed on purpose",
            },
            "details": {
                "type": "object",
                "title": "Details",
                "description": "Extra JSON attached to the error.",
                "additionalProperties": True,
            },
        },
    }
    defaults = {"message": "Failed on purpose"}
    inline = True

    def run(self, ctx: NodeContext) -> Any:
        message = ctx.config.get("message") or "Failed on purpose"
        details = ctx.config.get("details")
        raise NodeError(str(message), details=details if isinstance(details, dict) else None, retryable=True)
