"""What a loop keeps of its items once they have ended: one status byte and one value each.

A settled item's scope run, scheduler and node runs are gone (they are in the database);
the loop keeps only what its own result is made of — the item's output, or its error — in
a list, and how it ended in a `bytearray` (1 byte an item instead of an 8-byte pointer):
succeeded, failed, or cancelled — cut by `cancelOnFailure` after another item failed, which
is not a failure of its own (the loop's error counts it apart: "1 of 3 items failed; 2
cancelled", as a merge's does). The output array *is* the loop's result, so it has to
be kept until the loop ends; nothing else is.

A fourth ending comes from a redrive: an item that failed, whose dead letter a user then
replayed as another execution, and that the redrive keeps rather than running it a second
time (engine.services.execution_redrive) is REPLAYED — neither a success here nor a failure
of this run (its work was done again there): it does not fail the loop under
`onPartialFailure: "fail"`, and its value says where it went (`{"replayedAs": 12}`).
"""

from __future__ import annotations

from typing import Any

from engine.core.policies import JoinPolicy, failure_entry, section_verdict

PENDING, OK, FAILED, CANCELLED, REPLAYED = 0, 1, 2, 3, 4


class LoopResults:
    def __init__(self, total: int, numbers: list[int] | None = None) -> None:
        self.total = total
        # A dead-letter replay runs chosen items only: `numbers[i]` is the index the item at
        # place i has in the loop's array, the one its output names (None: the same).
        self.numbers = numbers
        self.status = bytearray(total)  # PENDING, OK, FAILED or CANCELLED per item, in array order
        self.values: list[Any] = [None] * total  # the output of an item that succeeded, else its error
        self.done = 0

    def settle(self, index: int, ok: bool, value: Any, *, cancelled: bool = False) -> None:
        """`cancelled`: the item was cut (its value is why), it did not fail by itself."""
        if self.status[index] == PENDING:
            self.done += 1
        self.status[index] = OK if ok else CANCELLED if cancelled else FAILED
        self.values[index] = value

    def replayed(self, index: int, execution: Any) -> None:
        """The item's failure was taken up by a replay, as execution `execution` (see above)."""
        if self.status[index] == PENDING:
            self.done += 1
        self.status[index] = REPLAYED
        self.values[index] = {"replayedAs": execution}

    def to_redrive(self) -> int:
        """Items that did not succeed (failed, timed out, cancelled or cut) and are this
        run's: an item a redrive kept as replayed ran as another execution, not here."""
        return len(self.status) - self.status.count(OK) - self.status.count(REPLAYED)

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
        ok_count, failed_count, cut_count = status.count(OK), status.count(FAILED), status.count(CANCELLED)
        replayed = status.count(REPLAYED)
        # minSuccessRate divides by every item, a cut one too (it did not succeed); not by
        # an item replayed elsewhere, which this run neither did nor failed.
        verdict = section_verdict(policy, ok_count, failed_count,
                                  self.total - replayed if not partial else ok_count + failed_count + cut_count, cut_count,
                                  noun="items")
        mode = policy.on_partial_failure
        out: Any
        if mode == "collect":
            out = {
                "results": [
                    {"success": True, "data": value} if code == OK
                    else {"success": False, **failure_entry(value), "cancelled": True} if code == CANCELLED
                    else {"success": False, **value} if code == REPLAYED
                    else {"success": False, **failure_entry(value)}
                    for code, value in zip(status, values, strict=True) if code != PENDING
                ],
                # failureCount keeps its meaning: every item that did not succeed, a cut one
                # too (its entry says `cancelled: true`, as a merge's cut branch does).
                "successCount": ok_count,
                "failureCount": failed_count + cut_count,
            }
        elif mode == "continue" or partial:
            out = [value for code, value in zip(status, values, strict=True) if code == OK]
        else:
            out = [value for code, value in zip(status, values, strict=True) if code != PENDING]
        if policy.collect_errors:
            # Every item that did not succeed, in array order, in the entry a merge gives a
            # branch: `error` the message, `details` what else the failure said.
            errors = [{"index": self.number(i), **failure_entry(values[i])}
                      for i in sorted(self.indexes(FAILED) + self.indexes(CANCELLED))]
            out = {"results": out, "errors": errors} if isinstance(out, list) else {**out, "errors": errors}
        if partial:
            cut = [self.number(i) for i in self.indexes(PENDING)]
            out = {"results": out, "cancelled": cut} if isinstance(out, list) else {**out, "cancelled": cut}
        return out, verdict

    def failure(self, verdict: str) -> dict[str, Any]:
        """The loop's error: its verdict, naming the first failed items and why (not the
        cut ones: the verdict counts them, and each says only which item's failure cut it)."""
        return {"message": verdict,
                "errors": [{"index": self.number(i), **failure_entry(self.values[i])} for i in self.indexes(FAILED, 10)]}

    def number(self, index: int) -> int:
        """The item's index in the loop's array (in a replay of chosen items, not its place here)."""
        return self.numbers[index] if self.numbers is not None else index
