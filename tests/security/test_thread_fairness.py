"""Fair sharing of the engine's node threads between users (issue 12, "fairness").

Probed on a live server: the sandbox shares its workers fairly, but every node body holds
one of the engine's threads while it waits for a sandbox worker (or an HTTP answer). With
alice's loops keeping more bodies in flight than there are threads, bob's `1+1` transform
waited for a thread behind all of them: 3.6 s behind two loops of 20 `while(true){}` items,
13.5 s behind three. Now one user holds at most all threads but one, and a free thread goes
round-robin between users."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from engine.executors.thread import ThreadExecutor
from engine.models import NodeRun
from tests.security.runaway import small_run_beside_a_runaway_loop


@pytest.mark.django_db(transaction=True)
def test_another_users_node_run_gets_a_thread_while_one_users_loop_holds_more_bodies_than_threads(settings):
    settings.FLOWMAESTRO_MAX_WORKERS = 6  # a small engine: alice's loop keeps 16 bodies in flight
    bob_ex, bob_wait, loop_ex = small_run_beside_a_runaway_loop(items=16, running=10)

    assert bob_ex.status == "succeeded"
    assert NodeRun.objects.get(execution=bob_ex, node_id="add").output == 2
    loop_wall = (loop_ex.finished_at - loop_ex.started_at).total_seconds()
    # The loop is 16 evaluations of 1 s on the sandbox workers alice may hold (about 8 s);
    # bob's run needs a thread and a worker, each free within about one evaluation (plus a
    # worker's start on a busy machine). Behind alice's queue it waited most of the loop.
    assert loop_wall > 4
    assert bob_wait < 0.4 * loop_wall, (bob_wait, loop_wall)
    assert bob_wait < 5.0, (bob_wait, loop_wall)


class _Reports:
    engine_id = "test"

    def __init__(self) -> None:
        self.done_order: list[str] = []
        self.lock = threading.Lock()

    def done(self, attempt: Any, value: Any, exc: BaseException | None) -> None:
        with self.lock:
            self.done_order.append(value)

    def remote_done(self, attempt_id: str, value: Any, exc: BaseException | None) -> None: ...

    def remote_log(self, attempt_id: str, line: str) -> None: ...

    def control(self, message: dict[str, Any]) -> None: ...


def _attempt(owner: Any, execution: Any, name: str, gate: threading.Event | None = None,
             running: list[str] | None = None) -> Any:
    def run(ctx: Any) -> str:
        if running is not None:
            running.append(name)
        if gate is not None:
            gate.wait(10)
        return name
    return SimpleNamespace(ctx=SimpleNamespace(owner=owner, execution_id=execution), impl=SimpleNamespace(run=run))


def _wait(predicate: Any) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_one_owner_never_holds_every_thread_and_owners_take_turns():
    reports = _Reports()
    executor = ThreadExecutor(4)
    executor.start(reports)
    gate = threading.Event()
    running: list[str] = []
    try:
        for i in range(10):
            executor.submit(_attempt("alice", 1, f"a{i}", gate, running))
        _wait(lambda: len(running) == 3)
        time.sleep(0.05)
        assert running == ["a0", "a1", "a2"]  # alice's cap: every thread but one
        executor.submit(_attempt("bob", 2, "b0"))
        _wait(lambda: "b0" in reports.done_order)  # the fourth thread was free for bob
        executor.submit(_attempt("bob", 2, "b1", gate, running))
        executor.submit(_attempt("carol", 3, "c0", gate, running))
        gate.set()
        _wait(lambda: len(reports.done_order) == 13)
        # Once threads free up, bob and carol are served before alice's queue is drained.
        order = reports.done_order
        assert order.index("b1") < order.index("a9") and order.index("c0") < order.index("a9"), order
    finally:
        gate.set()
        executor.shutdown()


def test_bodies_without_an_owner_are_not_capped():
    reports = _Reports()
    executor = ThreadExecutor(3)
    executor.start(reports)
    gate = threading.Event()
    running: list[str] = []
    try:
        for i in range(3):
            executor.submit(_attempt(None, 1, f"n{i}", gate, running))
        _wait(lambda: len(running) == 3)
    finally:
        gate.set()
        executor.shutdown()


def test_executions_of_one_owner_take_turns():
    reports = _Reports()
    executor = ThreadExecutor(2, per_user=1)
    executor.start(reports)
    gate = threading.Event()
    try:
        executor.submit(_attempt("alice", 1, "first", gate))
        time.sleep(0.05)
        for i in range(3):
            executor.submit(_attempt("alice", 1, f"x{i}"))
        executor.submit(_attempt("alice", 2, "y0"))
        gate.set()
        _wait(lambda: len(reports.done_order) == 5)
        assert reports.done_order.index("y0") <= 2, reports.done_order
    finally:
        executor.shutdown()


def test_a_burst_of_bodies_onto_one_idle_thread_starts_threads_for_all_of_them():
    """Ten loop items submitted at once while one thread idles all run at once: the burst
    must not count ten times on that one thread (they then ran one after another: a loop of
    ten 300 ms calls took 3.3 s instead of 0.3 s)."""
    reports = _Reports()
    executor = ThreadExecutor(16)
    executor.start(reports)
    gate = threading.Event()
    running: list[str] = []
    try:
        executor.submit(_attempt("alice", 1, "warm"))
        _wait(lambda: reports.done_order == ["warm"])
        time.sleep(0.05)  # its thread is idle now
        for i in range(10):
            executor.submit(_attempt("alice", 1, f"item{i}", gate, running))
        _wait(lambda: len(running) == 10)  # all ten at once, before any of them may finish
    finally:
        gate.set()
        executor.shutdown()
