"""`merge`: joins branches (SPEC §4.3). The scheduler decides *when* it runs (mode and the
`parallel` policy); this module decides *what* it outputs."""

from __future__ import annotations

from typing import Any

from engine.core.policies import failure_entry
from engine.nodes import register
from engine.nodes.base import MAX_CONCURRENCY, PARALLEL_POLICY_SCHEMA, NodeContext, NodeType


@register
class Merge(NodeType):
    type = "merge"
    title = "Merge"
    category = "Flow"
    description = "Joins parallel branches: wait for all, the first success, or a quorum."
    inline = True
    data_only = True
    config_schema = {
        "type": "object",
        "properties": {
            "mode": {
                "type": "string", "enum": ["all", "first_success", "quorum"], "default": "all",
                "description": "all: wait for every branch; first_success: go on at the first successful branch "
                               "and cancel the others; quorum: go on after `quorum` successes",
            },
            "quorum": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY,
                       "description": "successes needed in quorum mode"},
            "output": {
                "type": "string", "enum": ["object", "collect", "first"], "default": "object",
                "description": "object: {branch_a: …}; collect: {results, successCount, failureCount}; "
                               "first: the first successful branch's output",
            },
            "parallel": PARALLEL_POLICY_SCHEMA,
        },
    }
    defaults = {"mode": "all", "output": "object"}

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        results = ctx.branch_results
        mode = config.get("output", "object")
        parallel = config.get("parallel") or {}
        ok = [r for r in results if r.success]
        failed = [r for r in results if not r.success]
        out: Any
        if mode == "first":
            out = ok[0].data if ok else None
        elif mode == "collect" or parallel.get("onPartialFailure") == "collect":
            out = {
                "results": [
                    {"branch": r.branch, "success": True, "data": r.data} if r.success
                    # A branch cut by cancelOnFailure did not fail by itself: it says so.
                    else {"branch": r.branch, "success": False, **failure_entry(r.error), "cancelled": True}
                    if r.cancelled
                    else {"branch": r.branch, "success": False, **failure_entry(r.error)}
                    for r in results
                ],
                "successCount": len(ok),
                "failureCount": len(failed),
            }
        else:
            out = {r.branch: r.data for r in ok}
        if parallel.get("collectErrors") and isinstance(out, dict):
            # The same entry as a loop item's (engine.core.policies.failure_entry), keyed by branch.
            out = {**out, "errors": [{"branch": r.branch, **failure_entry(r.error)} for r in failed]}
        cut = [r.branch for r in results if r.cancelled]
        if cut and isinstance(out, dict) and parallel.get("onTimeout") == "collect_partial":
            out = {**out, "cancelled": cut}
        return out
