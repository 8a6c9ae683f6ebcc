"""`transform`: reshapes data — passthrough, pick a path, deep-merge inputs, or custom JS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.templates import lookup, parse_path
from engine.nodes import register
from engine.nodes.base import NodeContext, NodeError, NodeType

OPERATIONS = ["passthrough", "pick", "merge", "custom"]


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merge key by key, recursively; anything else (lists included) is replaced
    by the later value."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def run_expression(ctx: NodeContext, code: str) -> Any:
    """Evaluate `code` in the sandbox with the node run's bindings; console lines go to the
    run log (also those written before a failure)."""
    # Imported here: the sandbox imports engine.nodes.base, and engine.nodes imports this
    # module while it loads, so a top-level import would be circular.
    from engine.expressions import ExpressionError, evaluate

    ctx.raise_if_cancelled()
    try:
        result = evaluate(
            code,
            ctx.expression_bindings(),
            timeout_ms=ctx.options.expression_timeout_ms,
            memory_mb=ctx.options.expression_memory_mb,
            max_output_bytes=ctx.options.expression_max_output_bytes,
            owner=ctx.owner,
            execution=ctx.execution_id,
            cancelled=ctx.cancelled.is_set,
        )
    except ExpressionError as exc:
        for line in exc.logs:
            ctx.log(line)
        # The node's `retry` holds for everything that happens at run time — an error the
        # user's code throws, a time or memory limit, a crash of the sandbox; only code that
        # does not even parse fails the same way every time (SPEC §3).
        exc.retryable = exc.kind != "syntax"
        raise
    for line in result.logs:
        ctx.log(line)
    ctx.raise_if_cancelled()
    return result.value


def operation_of(config: Mapping[str, Any]) -> str:
    """The operation a config asks for: `expression` without `operation` means custom."""
    operation = config.get("operation")
    if operation:
        return str(operation)
    return "custom" if isinstance(config.get("expression"), str) and config["expression"].strip() else "passthrough"


@register
class TransformNode(NodeType):
    type = "transform"
    title = "Transform"
    category = "Data"
    description = (
        "Reshapes data: pass the input through, pick a path from it, deep-merge the incoming "
        "branches, or compute a result with a JavaScript expression."
    )
    config_schema = {
        "type": "object",
        "title": "Transform",
        "properties": {
            "operation": {
                "type": "string",
                "title": "Operation",
                "enum": OPERATIONS,
                "default": "passthrough",
                "description": (
                    "passthrough: output = input; pick: the value at `path`; merge: deep-merge of the "
                    "incoming branches (or of an input list of objects); custom: the result of `expression`."
                ),
            },
            "path": {
                "type": "string",
                "title": "Path",
                "description": "For pick: a dotted path into the input, e.g. `body.users[0].email`.",
                "default": "",
                # The editor shows a field only for the operations it applies to.
                "x-show-when": {"operation": ["pick"]},
            },
            "expression": {
                "x-show-when": {"operation": ["custom"]},
                "type": "string",
                "title": "Expression (JavaScript)",
                "description": (
                    "For custom: JavaScript run in a sandbox. An expression (`input.count * 2`) or a "
                    "function body with `return`. Variables: input, upstream node outputs by id, "
                    "branch_a…, variables, parallel, branch, the loop item. console.log goes to the run log."
                ),
                "format": "javascript",
                "default": "return input;",
            },
        },
        # No `operation` with an `expression` is a custom transform (the seed's Logging
        # block); with neither it passes its input through.
        "allOf": [
            # `required` inside `if`: without it an absent operation would match every branch.
            {"if": {"properties": {"operation": {"const": "pick"}}, "required": ["operation"]},
             "then": {"required": ["path"]}},
            {"if": {"properties": {"operation": {"const": "custom"}}, "required": ["operation"]},
             "then": {"required": ["expression"]}},
        ],
    }
    defaults = {"operation": "passthrough"}
    raw_fields = frozenset({"expression"})
    # `custom` runs JavaScript (up to its time limit) and must not hold the coordinator;
    # the other operations are cheap dictionary work and may run inline.
    inline = False
    remote = True  # `custom` (JavaScript) may run on a Celery worker
    data_only = True  # all but `custom` (runs_inline): see NodeType.only_data
    pinnable = True  # its output is data: pinned test data may stand in for it

    @classmethod
    def runs_inline(cls, config: Mapping[str, Any]) -> bool:
        return operation_of(config) != "custom"

    def run(self, ctx: NodeContext) -> Any:
        operation = operation_of(ctx.config)
        if operation == "passthrough":
            return ctx.input
        if operation == "pick":
            return self._pick(ctx)
        if operation == "merge":
            return self._merge(ctx)
        if operation == "custom":
            code = ctx.config.get("expression")
            if not isinstance(code, str) or not code.strip():
                raise NodeError("A custom transform needs an `expression`", retryable=False)
            return run_expression(ctx, code)
        raise NodeError(f"Unknown transform operation {operation!r}", retryable=False)

    def _pick(self, ctx: NodeContext) -> Any:
        path = str(ctx.config.get("path") or "").strip()
        if not path:
            return ctx.input
        steps = parse_path(path)
        # `input.body` reads the same as `body`: people write the variable name out of habit.
        if steps and steps[0] == "input" and not (isinstance(ctx.input, Mapping) and "input" in ctx.input):
            steps = steps[1:]
        return lookup({"value": ctx.input}, ("value", *steps))

    def _merge(self, ctx: NodeContext) -> Any:
        if ctx.branches:
            parts: list[tuple[str, Any]] = list(ctx.branches.items())
        elif isinstance(ctx.input, list):
            parts = [(f"input[{i}]", item) for i, item in enumerate(ctx.input)]
        else:
            raise NodeError(
                "Merge needs incoming branches or an input list of objects", retryable=False
            )
        merged: dict[str, Any] = {}
        for name, value in parts:
            if value is None:
                continue  # a skipped or empty branch adds nothing
            if not isinstance(value, Mapping):
                raise NodeError(
                    f"Merge can only deep-merge objects; {name} is {type(value).__name__}",
                    details={"branch": name},
                    retryable=False,
                )
            merged = deep_merge(merged, value)
        return merged
