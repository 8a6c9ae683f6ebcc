"""Loop containers (SPEC §4.4): each item runs the loop body as its own scope run.

Items start lazily, so memory holds only the items in flight plus one result per item;
`maxConcurrency` caps items in flight (1 when `parallel` is false), `rateLimit` spaces
item starts with a token bucket, `batchSize` runs batches one after another with
`delayBetweenBatches` between them. The loop's `queue` (engine.core.item_queue) decides
which item starts next, bounds how many wait (back-pressure), and expires items that
waited past its `timeout`; with `deadLetterQueue` failed and expired items are kept as
dead letters (kind "item") in the same write as the loop's state.

Batches are cut in start order (the k-th item to start is in batch k // batchSize), which
is array order unless the queue's `priority` says otherwise.

Memory: an item that has ended leaves one status byte and its output (or error) in the
loop's `LoopResults` (engine.core.loop_results) and nothing else — its scope run and the
execution's per-node bookkeeping of it (attempt counts, the "recorded" marks) are dropped
as it ends, so a 1,000,000-item loop holds the items in flight, the input array and the
outputs that make up its result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.core.item_queue import ItemQueue
from engine.core.json_bounds import TooLarge, json_size, too_large
from engine.core.loop_results import LoopResults
from engine.core.policies import RateLimiter
from engine.core.policies import join_policy as _join_policy
from engine.core.replay_items import replay_selection
from engine.core.scopes import Attempt, ScopeRun
from engine.core.templates import render

if TYPE_CHECKING:
    from engine.core.engine import Engine


class LoopRun:
    def __init__(
        self,
        engine: Engine,
        attempt: Attempt,
        items: list[Any],
        config: Mapping[str, Any],
        *,
        indexes: list[int] | None = None,
    ):
        self.engine = engine
        self.attempt = attempt
        self.ex = attempt.ex
        self.items = items
        self.total = len(items)
        # A dead-letter replay runs chosen items only; they keep their original index.
        self.indexes = indexes
        parallel = config.get("parallel", True)
        # A loop is a join of its items: its own policy object, else `settings.parallel`.
        self.policy = _join_policy("loop", {"parallel": parallel if isinstance(parallel, Mapping) else None},
                                   attempt.ex.plan.graph.settings.get("parallel"))
        self.concurrency = int(config.get("maxConcurrency") or 10) if parallel is not False else 1
        self.batch_size = int(config.get("batchSize") or 0) or self.total or 1
        self.batch_delay = float(config.get("delayBetweenBatches") or 0) / 1000
        rate = config.get("rateLimit")
        self.limiter = RateLimiter(float(rate)) if rate else None
        queue = config.get("queue")
        self.queue = ItemQueue(items, queue if isinstance(queue, Mapping) else {})
        self.item_variable = str(config.get("itemVariable") or "item")
        self.results = LoopResults(self.total, indexes)
        self.started = 0  # items started, in start order (batches are cut from this)
        self.started_done = 0  # started items that finished
        self.active: dict[int, ScopeRun] = {}
        self.waiting = False
        self.filling = False
        self.stopped = False
        self.lingering = False  # failed fast; items still running finish (no cancelOnFailure)
        self.expiry_timer: Any = None
        self.body = attempt.ex.plan.scopes.get(attempt.node.id)
        scope = attempt.scope
        self.key_prefix = (scope.key + "/" if scope.key else "") + attempt.node.id + "#"
        bid = attempt.row["branch_id"]
        self.base_path = tuple(int(p) for p in bid.split(".")) if bid != "main" else ()
        names = scope.base_names + scope.plan.branches.node[attempt.node.id].names
        self.base_names = names
        self.base_trace = attempt.row["trace_id"]
        self.replayed = _replayed_items(attempt)
        self.kept_replayed: dict[int, Any] = {}
        # Items whose rows replay from history (kept by a redrive, or ended before a
        # restart): their nodes that do. A failure of one of those is the old one, whose
        # dead letter was written when it failed: not a second letter for the same work.
        self.kept_nodes: dict[int, set[str]] = {}

    # -- starting items ------------------------------------------------------------------
    def fill(self) -> None:
        """Start items while there is room. Items can finish synchronously (an empty inner
        loop), so this guards against re-entry and checks for the end afterwards."""
        if self.stopped or self.attempt.status != "running" or self.waiting or self.filling:
            return
        if self.total == 0 or self.body is None or not self.body.scope.order:
            self.finish()
            return
        self.filling = True
        try:
            self._start_items()
        finally:
            self.filling = False
        if self.stopped:
            return
        if self.results.done >= self.total:
            self.finish()
        else:
            self._arm_expiry()

    def _start_items(self) -> None:
        self._expire_waiting()
        while len(self.active) < self.concurrency and len(self.queue) and not self.stopped:
            if self.ex.status != "running":
                # Paused: no new items start; look again shortly.
                self.waiting = True
                self.engine.add_timer(0.1, self._resume, self.ex)
                return
            if self.started and self.started % self.batch_size == 0 and self.started_done < self.started:
                return  # the previous batch is still running
            if self.limiter is not None:
                wait = self.limiter.wait_time()
                if wait > 0:
                    self.waiting = True
                    self.engine.add_timer(wait, self._resume, self.ex)
                    return
                self.limiter.take()
            index = self.queue.pop()
            if index is None:
                break
            self._start_item(index)

    def _resume(self) -> None:
        self.waiting = False
        self.fill()

    def _start_item(self, index: int) -> None:
        assert self.body is not None
        item = self.items[index]
        number = self.indexes[index] if self.indexes is not None else index
        batch_id = self.started // self.batch_size
        self.started += 1
        locals_ = {
            self.item_variable: item, "item": item, "__item": item,
            "parallel": {"index": number, "total": self.total, "batchId": batch_id},
        }
        child = ScopeRun(
            self.ex, self.body, key=f"{self.key_prefix}{number}", parent=self.attempt.scope, iteration=number,
            base_path=self.base_path, base_names=self.base_names, base_trace=self._item_trace(index),
            locals=locals_, on_done=self._on_item_done(index),
        )
        self.active[index] = child
        replay = self.ex.history.replay
        # (Looked up only when there is history: a fresh run's items pay nothing for it.)
        kept = {n for n in self.body.scope.order if (child.key, n) in replay} if replay else None
        if kept:
            self.kept_nodes[index] = kept
        if number in self.replayed and kept:
            # Kept from before the redrive (its rows replay), not run again now.
            self.kept_replayed[index] = self.replayed[number]
        self.ex.apply(child, child.sched.start())

    def _on_item_done(self, index: int) -> Callable[[ScopeRun], None]:
        return lambda scope: self._item_done(index, scope)

    def _item_trace(self, index: int) -> str:
        number = self.indexes[index] if self.indexes is not None else index
        return f"{self.base_trace}-{number + 1:03d}"

    # -- the queue's timeout -----------------------------------------------------------------
    def _expire_waiting(self) -> None:
        """Fail the items that waited in the queue past its `timeout`."""
        entries = self.queue.expire()
        expired = [index for index, _ in entries]
        for index, waited_s in entries:
            number = self.indexes[index] if self.indexes is not None else index
            message = (f"queue timeout: item {number} waited {round(waited_s * 1000)} ms "
                       f"(queue.timeout {round((self.queue.timeout_s or 0) * 1000)} ms)")
            error = {"message": message, "queueTimeout": True}
            self.ex.log(self.attempt, message)
            self.results.settle(index, False, message)
            _dead_letter(self, index, error, attempts=0)
        if expired and (self.policy.fail_fast or self.policy.cancel_on_failure):
            self._first_failure(expired[0], self.results.values[expired[0]])

    def _arm_expiry(self) -> None:
        if self.stopped or self.expiry_timer is not None:
            return
        due = self.queue.next_deadline_s()
        if due is None:
            return

        def fire() -> None:
            self.expiry_timer = None
            if self.stopped or self.attempt.status != "running" or self.filling:
                return
            # Expire even while starts wait (rate limit, batch delay, a pause).
            self._expire_waiting()
            if self.stopped:
                return
            if self.results.done >= self.total:
                self.finish()
            elif self.waiting:
                self._arm_expiry()
            else:
                self.fill()

        # A little past the deadline, so the entry has really waited `timeout`.
        self.expiry_timer = self.engine.add_timer(due + 0.001, fire, self.ex)
        self.attempt.timers.append(self.expiry_timer)

    # -- items finishing -------------------------------------------------------------------
    def _item_done(self, index: int, scope: ScopeRun) -> None:
        self.active.pop(index, None)
        attempts = _forget(self, scope)
        if self.stopped:
            if self.lingering and not self.active:
                # The last item that outlived a fail-fast has finished: the scope may end.
                self.lingering = False
                self.ex.lingering.discard(self)
                self.ex.check_scope(self.attempt.scope)
            return
        failed = scope.sched.failed
        if failed is not None and index in self.kept_replayed:
            # Its old failure, replayed as another execution: not a failure of this run, and
            # no new dead letter (its letter stays the replayed one).
            self.results.replayed(index, self.kept_replayed.pop(index))
            failed = None
        else:
            self.results.settle(index, failed is None, scope.result() if failed is None else failed.get("error"))
        self.started_done += 1
        if failed is not None and failed.get("nodeId") not in self.kept_nodes.pop(index, ()):
            _dead_letter(self, index, failed.get("error"), attempts=attempts)
        # A whole batch finished: wait `delayBetweenBatches` before the next one.
        if (self.batch_delay and self.started_done == self.started and self.started % self.batch_size == 0
                and len(self.queue)):
            self.waiting = True
            self.engine.add_timer(self.batch_delay, self._resume, self.ex)
        if failed is not None and (self.policy.fail_fast or self.policy.cancel_on_failure):
            self._first_failure(index, failed.get("error"))
            return
        if self.filling:
            return  # the running fill() sees the end itself
        if self.results.done >= self.total:
            self.finish()
        else:
            self.fill()

    def _first_failure(self, index: int, error: Any) -> None:
        """failFast: the loop fails now — its running items are cancelled with
        cancelOnFailure, else they run to their end. cancelOnFailure alone: the running and
        waiting items are cut, and the loop is judged on what it has (SPEC §4.3)."""
        number = self.indexes[index] if self.indexes is not None else index
        if self.policy.fail_fast:
            failure = {"message": f"item {number} failed (failFast)", "error": error}
            if self.policy.cancel_on_failure or not self.active:
                self._fail(failure)
                return
            self.stopped = True
            self.lingering = True
            self.ex.lingering.add(self)
            self.ex.fail_attempt(self.attempt, failure, retryable=False)
            return
        reason = f"cancelled: item {number} failed (cancelOnFailure)"
        for i in list(self.active):
            self.results.settle(i, False, reason, cancelled=True)
        self._cancel_active(reason)
        while len(self.queue):
            waiting = self.queue.pop()
            if waiting is None:
                break
            self.results.settle(waiting, False, reason, cancelled=True)
        self.finish()

    def finish(self) -> None:
        out, verdict = self.results.output(self.policy)
        if verdict:
            self._fail(self.results.failure(verdict))
            return
        self._succeed(out)

    def _count_failed(self) -> None:
        """Tell the execution how many of this loop's items did not succeed (failed, timed
        out, cancelled or cut): what "Redrive failed (N items)" re-runs. Once per loop run,
        at its end — a count of a byte array, not per-item work."""
        failed = self.results.to_redrive()
        if self.attempt.scope.key:
            self.ex.failed_items += failed
        else:
            # A top-level loop may run again in this same run (a whole-branch retry): its
            # latest run's count replaces the earlier one (a few entries: one per loop node).
            self.ex.top_loop_failed_items[self.attempt.node.id] = failed

    def _succeed(self, out: Any) -> None:
        # Each item's output was bounded when it was made, but items can share one value
        # (each body passes `{{start.big}}` on): the list holds it once, its JSON once per
        # item. Counted (each shared value walked once) before the writer writes it out.
        limit = self.ex.engine.options.output_max_bytes
        if json_size(out, limit) > limit:
            self._fail({"message": f"output refused: {too_large('the loop output', limit)}",
                        "kind": "invalid_output"})
            return
        self._count_failed()
        self.stopped = True
        alias = (self.attempt.node.config or {}).get("outputVariable")
        if alias:
            self.attempt.scope.aliases[str(alias)] = self.attempt.node.id
        self.ex.finalize(self.attempt, "succeeded", output=out)

    def _fail(self, error: dict[str, Any]) -> None:
        self._count_failed()
        self.cancel(error.get("message", "loop failed"))
        self.ex.fail_attempt(self.attempt, error, retryable=False)

    def total_timeout(self) -> None:
        if self.stopped or self.attempt.status != "running":
            return
        if self.policy.on_total_timeout == "collect_partial":
            self.cancel("totalTimeout reached")
            out, _ = self.results.output(self.policy, partial=True)
            self._succeed(out)
        else:
            self._fail({"message": f"totalTimeout of {self.policy.total_timeout_ms} ms reached"})

    def cancel(self, reason: str) -> None:
        """Stop starting items and cancel the ones running."""
        self.stopped = True
        self._cancel_active(reason)

    def _cancel_active(self, reason: str) -> None:
        for child in list(self.active.values()):
            child.done = True
            for attempt in list(child.attempts.values()):
                self.ex.cancel_attempt_quiet(attempt, reason)
            _forget(self, child)
        self.active.clear()


def _replayed_items(attempt: Attempt) -> dict[int, Any]:
    """Items of this loop that a redrive keeps although they failed, because their dead
    letters were replayed as other executions: {item index: that execution's id}
    (engine.services.execution_redrive). Those of them that replay from history, not run
    again here, end REPLAYED (engine.core.loop_results), keyed by array position."""
    redrive = attempt.ex.extra_state.get("redrive") or {}
    replayed = (redrive.get("replayed") or {}).get(attempt.node.id) or {}
    return {int(i): x for i, x in replayed.items()} if isinstance(replayed, dict) else {}


def _dead_letter(loop: LoopRun, index: int, error: Any, *, attempts: int) -> None:
    """The dead letter of an item that failed, when the loop's queue keeps them."""
    if not loop.queue.dead_letter:
        return
    number = loop.indexes[index] if loop.indexes is not None else index
    loop.engine.batch.dead_letters.append({
        "execution_id": loop.ex.id, "kind": "item", "node_id": loop.attempt.node.id, "item_index": number,
        "input": loop.items[index], "error": error, "attempts": attempts, "trace_id": loop._item_trace(index),
        # The enclosing loops' items ("outer#2"; "" at the top): which inner item it is.
        "scope": loop.attempt.scope.key,
    })


def _forget(loop: LoopRun, scope: ScopeRun) -> int:
    """Drop the execution's bookkeeping of an item that has ended (its scope key is never
    used again), so that it does not grow with the item count; returns the most attempts a
    node of the item took (for its dead letter)."""
    if scope.plan.branch_member:
        loop.ex.branches.scope_ended(scope)
    return loop.ex.history.forget(scope.key, scope.plan.scope.order)


def begin_loop(engine: Engine, attempt: Attempt) -> None:
    """Start a loop node run: render its array, then start the first items."""
    ex = attempt.ex
    from engine.core.context import TemplateContext
    from engine.nodes import get_node_type

    cls_type = get_node_type("loop")
    row = attempt.row
    attempt.status = "running"
    attempt.impl = cls_type() if cls_type else None
    tctx = TemplateContext(ex, attempt.scope, attempt.input, {"id": row["branch_id"], "name": row["branch_name"]},
                           row["trace_id"])
    try:
        config = render(dict(attempt.node.config), tctx, max_chars=ex.engine.options.output_max_bytes)
    except TooLarge as exc:
        ex.rec.started(row, row["queued_at"], engine.engine_id)
        ex.fail_attempt(attempt, {"message": f"template error: {exc}"}, retryable=False)
        return
    items = config.get("arrayPath")
    # Replaying a dead letter of this loop (or of a loop inside it): only its item runs.
    items, indexes = replay_selection(getattr(ex, "dead_letter_replay", None) or {}, attempt.node.id,
                                      attempt.scope.key, items)
    # The start event says how many items the loop has (the count, never the items), so a
    # watcher can show "2 of 6 items" while it runs; known here once, not per item.
    ex.rec.started(row, row["queued_at"], engine.engine_id,
                   data={"itemCount": len(items)} if isinstance(items, list) else None)
    if not isinstance(items, list):
        ex.fail_attempt(attempt, {"message": not_an_array(attempt.node.config.get("arrayPath"), items)},
                        retryable=False)
        return
    # Checked once per loop run, before any item starts: each item leaves a result slot in
    # memory and node runs on disk, and an array built upstream (a transform, an HTTP
    # answer) can be far longer than any loop was meant for.
    max_items = engine.options.loop_max_items
    if len(items) > max_items:
        ex.fail_attempt(attempt, {"message": f"loop {attempt.node.id!r} has {len(items)} items, more than "
                                             f"{max_items} (the bound FLOWMAESTRO_LOOP_MAX_ITEMS)",
                                  "itemCount": len(items), "bound": max_items}, retryable=False)
        return
    loop = LoopRun(engine, attempt, items, config, indexes=indexes)
    attempt.loop = loop
    if attempt.policy.timeout_ms:
        attempt.timers.append(engine.add_timer(attempt.policy.timeout_ms / 1000, lambda: ex.timed_out(attempt), ex))
    if loop.policy.total_timeout_ms:
        attempt.timers.append(engine.add_timer(loop.policy.total_timeout_ms / 1000, loop.total_timeout, ex))
    loop.fill()


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        keys = list(value)[:6]
        return f"an object with keys {', '.join(repr(k) for k in keys)}{', …' if len(value) > 6 else ''}"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def not_an_array(template: Any, found: Any) -> str:
    """What `arrayPath` found instead of an array, and where the array inside it is
    (`{{users}}` after an HTTP node is its response; the list is `{{users.body}}`)."""
    message = f"arrayPath {template!r} resolved to {_kind(found)}, not an array"
    if isinstance(template, str) and isinstance(found, Mapping):
        inner = template.strip()
        if inner.startswith("{{") and inner.endswith("}}"):
            path = inner[2:-2].strip()
            arrays = [k for k, v in found.items() if isinstance(v, list)]
            if arrays:
                return message + f" — did you mean '{{{{{path}.{arrays[0]}}}}}'?"
    return message
