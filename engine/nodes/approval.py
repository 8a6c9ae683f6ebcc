"""`approval`: pauses the execution at this node ("Awaiting approval") until a `resume`
signal; its output is the signal's data, e.g. `{"approved": true}` (SPEC §6).

The wait itself (persisted approvers and deadline, un-pausing on timeout, waiting again
after an engine restart) is in `engine.core.signals`; this node only asks for it.
"""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import AwaitSignal, NodeContext, NodeType, duration_ms


@register
class Approval(NodeType):
    type = "approval"
    title = "Approval"
    category = "Flow"
    description = (
        "Pauses the run until someone resumes it (Approve / Reject on the timeline); the resume data "
        "becomes the output."
    )
    inline = True
    config_schema = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "default": "Awaiting approval"},
            "approvers": {
                "type": "array", "items": {"type": "string"},
                "description": ("user names or e-mails allowed to resume, among those who may signal the run "
                                "(its owner and staff); empty: all of them. Another user never sees the "
                                "run, so naming one leaves only the timeout: validation warns about each "
                                "such name (\"'bob' cannot see this workflow's runs\")"),
            },
            "timeout": duration_ms(1, "ms to wait for a decision"),
            # Besides the common values, a timed-out approval may decide by itself.
            "onTimeout": {
                "type": "string", "enum": ["error", "cancel", "continue", "approve", "reject"], "default": "error",
                "description": "approve/reject: the output becomes {approved, timedOut: true}",
            },
        },
    }

    def run(self, ctx: NodeContext) -> Any:
        return AwaitSignal(reason=str(ctx.config.get("message") or "Awaiting approval"),
                           approvers=[str(a) for a in ctx.config.get("approvers") or []])
