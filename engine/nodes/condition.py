"""`condition`: follows the `true` or `false` handle by a JavaScript expression's truthiness."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import NodeContext, NodeError, NodeType, Route
from engine.nodes.transform import run_expression


@register
class ConditionNode(NodeType):
    type = "condition"
    title = "Condition"
    category = "Flow"
    description = (
        "Evaluates a JavaScript expression in the sandbox and follows the `true` or `false` "
        "handle (JavaScript truthiness); the other side is skipped. The input passes through."
    )
    config_schema = {
        "type": "object",
        "title": "Condition",
        "properties": {
            "expression": {
                "type": "string",
                "title": "Expression (JavaScript)",
                "description": (
                    "e.g. `input.status === 200 && input.body.length > 0`, or a function body with "
                    "`return`. Same variables as a custom transform."
                ),
                "format": "javascript",
                "default": "input !== null",
            },
        },
        "required": ["expression"],
    }
    defaults = {"expression": "input !== null"}
    output_handles = ["true", "false"]
    raw_fields = frozenset({"expression"})
    inline = False
    remote = True  # JavaScript: may run on a Celery worker

    def run(self, ctx: NodeContext) -> Any:
        from engine.expressions import js_truthy

        code = ctx.config.get("expression")
        if isinstance(code, bool):  # a literal true/false typed into the form
            return Route(output=ctx.input, handle="true" if code else "false")
        if not isinstance(code, str) or not code.strip():
            raise NodeError("A condition needs an `expression`", retryable=False)
        value = run_expression(ctx, code)
        return Route(output=ctx.input, handle="true" if js_truthy(value) else "false")
