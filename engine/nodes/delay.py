"""`delay`: waits `duration` ms without holding a worker thread (the runtime's timer)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from engine.core.numerals import ascii_number
from engine.nodes import register
from engine.nodes.base import MAX_DURATION_MS, NodeContext, NodeError, NodeType, Sleep

# A string duration: one with a template, or a plain non-negative number (JSON's grammar).
DURATION_TEXT = re.compile(r"\{\{|^\s*[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$")


@register
class DelayNode(NodeType):
    type = "delay"
    title = "Delay"
    category = "Flow"
    description = "Waits `duration` milliseconds, then passes its input on. Cancellable; uses no worker while waiting."
    config_schema = {
        "type": "object",
        "title": "Delay",
        "properties": {
            "duration": {
                "type": ["integer", "number", "string"],
                "title": "Duration (ms)",
                "description": "Milliseconds to wait; may be a template such as `{{input.waitMs}}`. Text is a "
                               "template or a number in the digits 0-9 (`1_000` and `٣` are refused).",
                # Text is a template or a number in ASCII digits: "1_000" or "٣" (which
                # float() reads as 1000 and 3) is refused on save, not read as another number.
                "pattern": DURATION_TEXT.pattern,
                "x-pattern-says": "a number of milliseconds in the digits 0-9, or a {{template}}",
                "minimum": 0,
                "maximum": MAX_DURATION_MS,
                "default": 1000,
            },
        },
        "required": ["duration"],
    }
    defaults = {"duration": 1000}
    inline = True

    @classmethod
    def config_checks(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        # The schema bounds a number, not a number written as text ("99999999999"), which
        # would otherwise be saved and then fail every run.
        raw = config.get("duration")
        if isinstance(raw, str) and "{{" not in raw:
            value = float(raw)  # the schema's pattern has made it a plain decimal number
            if value > MAX_DURATION_MS:
                return (f"config.duration: {raw.strip()!r} is more than {MAX_DURATION_MS} ms (a week)",)
        return ()

    def run(self, ctx: NodeContext) -> Any:
        raw = ctx.config.get("duration", 0)
        try:
            # A rendered template is text ("250"); bool is an int in Python but not a duration.
            if isinstance(raw, bool):
                raise ValueError
            # A rendered template is read as ASCII: float() also took "٣", "1_000" and "nan".
            parsed = ascii_number(raw.strip()) if isinstance(raw, str) else float(raw)
            if parsed is None:
                raise ValueError
            duration = parsed
        except (TypeError, ValueError):
            raise NodeError(f"`duration` must be a number of milliseconds, got {raw!r}", retryable=False) from None
        if not math.isfinite(duration) or duration < 0 or duration > MAX_DURATION_MS:
            # A template can yield any number at run time; the saved range applies to it too.
            raise NodeError(f"`duration` must be between 0 and {MAX_DURATION_MS} ms, got {raw!r}", retryable=False)
        return Sleep(duration, output=ctx.input)
