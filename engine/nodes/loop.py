"""`loop`: a container whose body runs once per item (SPEC §4.4). The runtime
(`engine.core.loops`) drives the items; this module holds the schema."""

from __future__ import annotations

from typing import Any

from engine.nodes import register
from engine.nodes.base import (
    MAX_BATCH_SIZE,
    MAX_CONCURRENCY,
    MAX_QUEUE_SIZE,
    MAX_RATE_LIMIT,
    MIN_RATE_LIMIT,
    PARALLEL_POLICY_SCHEMA,
    NodeContext,
    NodeType,
    duration_ms,
)

QUEUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Queue",
    "properties": {
        "maxSize": {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE_SIZE,
                    "description": "items waiting at most (back-pressure)"},
        "priority": {"type": "string", "enum": ["fifo", "lifo", "priority"], "default": "fifo",
                     "description": "fifo: in array order; lifo: the latest to enter first (the array's end); priority: "
                                    "highest number at priorityPath first"},
        "priorityPath": {"type": "string",
                         "description": "path in the item giving its priority (default `priority`; "
                                        "an item without a number there has 0)"},
        "timeout": duration_ms(1, "ms an item may wait"),
        "deadLetterQueue": {"type": "boolean", "default": False},
    },
    "additionalProperties": False,
}


@register
class Loop(NodeType):
    type = "loop"
    title = "Loop"
    category = "Flow"
    description = "Runs its body for every item of an array, in parallel or one after another."
    container = True
    config_schema = {
        "type": "object",
        "properties": {
            "loopType": {"type": "string", "enum": ["forEach"], "default": "forEach"},
            "arrayPath": {"type": ["string", "array"], "description": "template giving the array, e.g. {{users.body}}"},
            "itemVariable": {"type": "string", "default": "item",
                             "description": "name the body reads the item by, e.g. user for {{user.id}}; letters, "
                                            "digits, _ and $, not a built-in name (input, variables, parallel, branch…)"},
            "outputVariable": {"type": "string",
                               "description": "name the results are known by afterwards, e.g. results for "
                                              "{{results}}; not a built-in name nor a node id"},
            "parallel": {
                "oneOf": [{"type": "boolean"}, PARALLEL_POLICY_SCHEMA],
                "default": True,
                "description": "true/false, or a parallel policy object",
            },
            "maxConcurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY, "default": 10,
                               "description": "items in flight at most"},
            "rateLimit": {"type": "number", "minimum": MIN_RATE_LIMIT, "maximum": MAX_RATE_LIMIT,
                          "description": "item starts per second"},
            "batchSize": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH_SIZE,
                          "description": "items per batch; batches run in turn"},
            "delayBetweenBatches": duration_ms(0, "ms between batches"),
            "queue": QUEUE_SCHEMA,
        },
        "required": ["arrayPath"],
    }
    defaults = {"loopType": "forEach", "parallel": True, "maxConcurrency": 10, "itemVariable": "item"}

    def run(self, ctx: NodeContext) -> Any:  # pragma: no cover - the runtime drives loops
        raise NotImplementedError("loops are driven by the runtime")
