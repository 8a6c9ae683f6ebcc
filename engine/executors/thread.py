"""The default executor: node bodies on threads of the engine's own process, shared fairly.

A node body holds its thread while it runs, also while it waits (an `http` call, a custom
transform waiting for a sandbox worker). With a plain first-come pool, one user's loops
with many such bodies in flight took every thread: probed on a live server, another user's
`1+1` transform waited 3.6 s behind two loops of 20 endless scripts and 13.5 s behind three,
although the sandbox itself shares its workers fairly. So bodies wait here in queues per
owner (the user who started the execution) and, inside an owner, per execution: a free
thread takes the next owner in round-robin order that holds fewer than `per_user` threads,
and inside that owner the next execution in round-robin order (first come, first served
inside an execution). With `per_user` below `max_workers` (default: one fewer) one user can
never hold every thread, and another user's body runs as soon as one thread is free.
Bodies without an owner (the engine's own tests) are not capped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from engine.executors.base import Reports

if TYPE_CHECKING:
    from engine.core.execution import Attempt

_NOBODY = object()


class ThreadExecutor:
    # In-process bodies start once their start is committed (engine.executors.base): the
    # writer thread hands them over, and the coordinator never pays for the pool's hand-off.
    submits_before_commit = False

    def __init__(self, max_workers: int = 32, *, initializer: Callable[[], None] | None = None,
                 per_user: int | None = None):
        # `initializer` runs first on each worker thread (the runtime uses it to give node
        # bodies every core when the process pins its GIL-bound threads to one).
        self.max_workers = max(1, max_workers)
        default = max(1, self.max_workers - 1)
        self.per_user = max(1, min(self.max_workers, per_user if per_user else default))
        self._initializer = initializer
        self._reports: Reports | None = None
        # owner -> execution -> attempts; both levels kept in round-robin order.
        self._queues: OrderedDict[Hashable, OrderedDict[Hashable, deque[Attempt]]] = OrderedDict()
        self._held: dict[Hashable, int] = {}  # threads running a body, per owner
        self._threads = 0
        self._idle = 0
        self._closed = False
        self._cond = threading.Condition()

    def start(self, reports: Reports) -> None:
        self._reports = reports

    def submit(self, attempt: Attempt) -> None:
        ctx = attempt.ctx
        owner = ctx.owner if ctx is not None else None
        execution = ctx.execution_id if ctx is not None else None
        with self._cond:
            if self._closed:
                return
            self._queues.setdefault(owner, OrderedDict()).setdefault(execution, deque()).append(attempt)
            if self._idle:
                self._wake_one()
            elif self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._loop, name=f"fm-node-{self._threads}", daemon=True).start()

    def _pick(self) -> tuple[Hashable, Attempt] | None:
        """The next body to run, fairly; None when every waiting owner is at its cap.
        Called with the lock held."""
        owner = next((o for o in self._queues if o is None or self._held.get(o, 0) < self.per_user), _NOBODY)
        if owner is _NOBODY:
            return None
        executions = self._queues[owner]
        execution, queue = next(iter(executions.items()))
        attempt = queue.popleft()
        # Served: this owner and this execution go to the back of their round-robin.
        if queue:
            executions.move_to_end(execution)
        else:
            del executions[execution]
        if executions:
            self._queues.move_to_end(owner)
        else:
            del self._queues[owner]
        self._held[owner] = self._held.get(owner, 0) + 1
        return owner, attempt

    def _wake_one(self) -> None:
        """Wake one idle thread (lock held). It leaves the idle count here, not when it
        wakes: a burst of submits before it runs would otherwise all count on that one
        thread, start no new ones, and run one after another (ten 300 ms calls of a loop took
        3.3 s instead of 0.3 s)."""
        self._idle -= 1
        self._cond.notify()

    def _loop(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            with self._cond:
                picked = None
                while not self._closed:
                    picked = self._pick()
                    if picked is not None:
                        break
                    self._idle += 1
                    self._cond.wait()  # `_wake_one` took it off the idle count
                if picked is None:
                    self._threads -= 1
                    return
            owner, attempt = picked
            try:
                self._work(attempt)
            finally:
                with self._cond:
                    held = self._held.get(owner, 0) - 1
                    if held > 0:
                        self._held[owner] = held
                    else:
                        self._held.pop(owner, None)
                    if self._idle and self._queues:
                        # This owner's place may let a body that waited for it go on another thread.
                        self._wake_one()

    def _work(self, attempt: Attempt) -> None:
        # Node types never touch the database (results go back to the coordinator), so
        # pooled threads need no connection handling.
        reports = self._reports
        assert reports is not None
        try:
            assert attempt.impl is not None and attempt.ctx is not None
            value = attempt.impl.run(attempt.ctx)
        except BaseException as exc:  # noqa: BLE001
            reports.done(attempt, None, exc)
        else:
            reports.done(attempt, value, None)

    def shutdown(self) -> None:
        # Bodies still waiting are dropped (the engine is stopping; another one takes over
        # their executions); running ones finish on their own.
        with self._cond:
            self._closed = True
            self._queues.clear()
            self._idle = 0
            self._cond.notify_all()
