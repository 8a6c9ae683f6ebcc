"""What a loop keeps of its items once they have ended: one status byte and one value each.

A settled item's scope run, scheduler and node runs are gone (they are in the database);
the loop keeps only what its own result is made of — the item's output, or its error — in
a list, and whether it succeeded in a `bytearray` (1 byte an item instead of an 8-byte
pointer to `True`/`False`/`None`). The output array *is* the loop's result, so it has to
be kept until the loop ends; nothing else is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.policies import JoinPolicy, section_verdict

PENDING, OK, FAILED = 0, 1, 2


class LoopResults:
    def __init__(self, total: int) -> None:
        self.total = total
        self.status = bytearray(total)  # PENDING, OK or FAILED per item, in array order
        self.values: list[Any] = [None] * total  # the output of an item that succeeded, else its error
        self.done = 0

    def settle(self, index: int, ok: bool, value: Any) -> None:
        if self.status[index] == PENDING:
            self.done += 1
        self.status[index] = OK if ok else FAILED
        self.values[index] = value

    def succeeded(self, index: int) -> bool:
        return self.status[index] == OK

    def indexes(self, status: int, limit: int | None = None) -> list[int]:
        """The items with this status, in array order (the first `limit` of them)."""
        found: list[int] = []
        at = self.status.find(status)
        while at >= 0 and (limit is None or len(found) < limit):
            found.append(at)
            at = self.status.find(status, at + 1)
        return found

    def output(self, policy: JoinPolicy, partial: bool = False) -> tuple[Any, str | None]:
        """The loop's output by its partial-failure policy, and its verdict (None: it
        succeeded). `partial`: the loop was cut short (a collect_partial timeout)."""
        status, values = self.status, self.values
        ok_count, failed_count = status.count(OK), status.count(FAILED)
        verdict = section_verdict(policy, ok_count, failed_count, self.total if not partial else ok_count + failed_count)
        mode = policy.on_partial_failure
        out: Any
        if mode == "collect":
            out = {
                "results": [
                    {"success": True, "data": value} if code == OK else {"success": False, "error": error_text(value)}
                    for code, value in zip(status, values, strict=True) if code != PENDING
                ],
                "successCount": ok_count,
                "failureCount": failed_count,
            }
        elif mode == "continue" or partial:
            out = [value for code, value in zip(status, values, strict=True) if code == OK]
        else:
            out = [value for code, value in zip(status, values, strict=True) if code != PENDING]
        if policy.collect_errors:
            errors = [{"index": i, "error": values[i]} for i in self.indexes(FAILED)]
            out = {"results": out, "errors": errors} if isinstance(out, list) else {**out, "errors": errors}
        if partial:
            cut = self.indexes(PENDING)
            out = {"results": out, "cancelled": cut} if isinstance(out, list) else {**out, "cancelled": cut}
        return out, verdict

    def failure(self, verdict: str) -> dict[str, Any]:
        """The loop's error: its verdict, naming the first failed items and why."""
        return {"message": verdict.replace("branches", "items"),
                "errors": [{"index": i, "error": error_text(self.values[i])} for i in self.indexes(FAILED, 10)]}


def error_text(error: Any) -> Any:
    """A plain `{"message": …}` error reads as its message, as in the seed's collect shape
    (`{success: false, error: "Timeout"}`); richer errors stay objects."""
    if isinstance(error, Mapping) and set(error) <= {"message", "details", "timeout", "queueTimeout"}:
        return error.get("message")
    return error
