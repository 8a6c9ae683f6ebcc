"""The engine calls every method of the `Persistence` protocol, and the in-memory store
implements them all: the engine's poll expires queued runs past their queue's timeout
(`expire_queued`) and applies signals stored for its executions (`executions_with_signals`)
without being told about them; each engine thread gives back what it holds (`thread_done`)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from engine.core.engine import Engine
from engine.core.persistence import MemoryPersistence, SignalRecord
from tests.engine.core.conftest import graph
from tests.engine.core_runner import CoreRunner
from tests.engine.definitions import START

SLOW = graph([START, {"id": "wait", "type": "delay", "config": {"duration": 5000}}], [("start", "wait")])


def test_a_run_that_waited_past_its_queue_timeout_is_timed_out_by_the_engines_poll() -> None:
    store = MemoryPersistence()
    timed = graph([START], [], queue={"timeout": 1000})
    late = store.create_execution(timed, {})
    on_time = store.create_execution(timed, {})
    store.executions[late]["created_at"] -= timedelta(seconds=5)  # waited 5 s of its 1 s
    engine = Engine(store, poll_interval=0.05, max_workers=2).start()
    try:
        assert engine.wait(on_time, 5)
    finally:
        engine.stop(1)
    assert store.executions[on_time]["status"] == "succeeded"
    expired = store.executions[late]
    assert expired["status"] == "timed_out"
    assert expired["error"]["message"] == "queue timeout" and expired["error"]["queueTimeoutMs"] == 1000
    assert expired["error"]["waitedMs"] >= 5000
    assert [e["type"] for e in store.events if e["execution_id"] == late] == ["execution.timed_out"]
    assert not [r for r in store.node_runs.values() if r["execution_id"] == late]  # it never ran


def test_a_stored_signal_is_found_by_the_engines_poll(core: CoreRunner) -> None:
    ex_id = core.store.create_execution(SLOW, {})
    core.engine.submit(ex_id)
    deadline = time.monotonic() + 5
    while not [r for r in core.store.node_runs.values() if r["execution_id"] == ex_id and r["status"] == "running"]:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.01)
    # Stored only, as another process's API would: no `engine.signal()` wakes the engine.
    core.store.signals.append((ex_id, SignalRecord(id=7, type="cancel", reason="enough", sent_by="alice")))
    assert core.engine.wait(ex_id, 3), "the stored cancel was never applied"  # not the delay's 5 s
    assert core.result(ex_id)["status"] == "cancelled"


def test_signals_of_executions_another_engine_owns_are_not_this_engines() -> None:
    store = MemoryPersistence()
    mine, theirs = store.create_execution(SLOW, {}), store.create_execution(SLOW, {})
    store.executions[mine]["engine_id"], store.executions[theirs]["engine_id"] = "me", "them"
    for ex_id in (theirs, mine, mine):
        store.signals.append((ex_id, SignalRecord(id=ex_id, type="pause")))
    assert store.executions_with_signals("me") == [mine]
    assert store.executions_with_signals("nobody") == []


def test_every_engine_thread_gives_back_what_it_holds() -> None:
    class Counting(MemoryPersistence):
        def __init__(self) -> None:
            super().__init__()
            self.done: list[Any] = []

        def thread_done(self) -> None:
            self.done.append(threading.current_thread().name)

    store = Counting()
    engine = Engine(store, poll_interval=0.05, max_workers=2).start()
    engine.stop(1)
    assert {"fm-coordinator", "fm-writer", "fm-announcer"} <= set(store.done)
