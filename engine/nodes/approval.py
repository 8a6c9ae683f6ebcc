"""`approval`: pauses the execution here until a `resume` signal; its output is the
signal's data (SPEC §6)."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import AwaitSignal, NodeContext, NodeType


@register
class Approval(NodeType):
    type = "approval"
    title = "Approval"
    category = "Flow"
    description = "Pauses the run until someone resumes it; the resume data becomes the output."
    inline = True
    config_schema = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "default": "Awaiting approval"},
            "approvers": {"type": "array", "items": {"type": "string"}, "description": "user names or e-mails"},
        },
    }

    def run(self, ctx: NodeContext) -> Any:
        return AwaitSignal(reason=str(ctx.config.get("message") or "Awaiting approval"),
                           approvers=list(ctx.config.get("approvers") or []))
