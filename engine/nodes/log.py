"""`log`: writes a templated message to the run log and passes its input on."""

from __future__ import annotations

import json
from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeType

LEVELS = ["debug", "info", "warn", "error"]


@register
class LogNode(NodeType):
    type = "log"
    title = "Log"
    category = "Utility"
    description = "Writes a message to the run log (with this node run's trace id); the input passes through."
    config_schema = {
        "type": "object",
        "title": "Log",
        "properties": {
            "message": {
                "type": "string",
                "title": "Message",
                "description": "Text to log; `{{path}}` templates are filled in, e.g. `Branch {{branch.id}}`.",
                "default": "",
            },
            "level": {
                "type": "string",
                "title": "Level",
                "enum": LEVELS,
                "default": "info",
                "description": "Shown as a prefix for warn and error.",
            },
        },
        "required": ["message"],
    }
    defaults = {"message": "", "level": "info"}
    inline = True
    data_only = True

    def run(self, ctx: NodeContext) -> Any:
        message = ctx.config.get("message", "")
        # A whole-template message (`{{users.body}}`) renders to its JSON value.
        text = message if isinstance(message, str) else json.dumps(message, default=str)
        level = ctx.config.get("level") or "info"
        ctx.log(f"[{level}] {text}" if level in ("warn", "error") else text)
        return ctx.input

