"""One execution's failure is its own (issue 12): an exception in any per-execution step of
the coordinator (claim, start, a node result, a signal, a timer) fails that execution with
the reason and the engine goes on; state that cannot be written fails only the execution
that holds it; recovery starts or fails every execution it claims. The real coordinator on
in-memory persistence (which, like a database, refuses NaN)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.core.engine import Engine
from engine.core.persistence import MemoryPersistence, SignalRecord
from engine.nodes import REGISTRY
from engine.nodes.base import NodeContext, NodeType, Sleep
from tests.engine.core.conftest import graph
from tests.engine.core_runner import CoreRunner
from tests.engine.definitions import START

GOOD = graph([START, {"id": "wait", "type": "delay", "config": {"duration": 30}},
              {"id": "out", "type": "output", "name": "out", "config": {"value": "{{input.n}}"}}],
             [("start", "wait"), ("wait", "out")])


def run_many(core: CoreRunner, definitions: list[dict[str, Any]], timeout: float = 15) -> list[dict[str, Any]]:
    """Queue all at once (one claim takes them together), wait for every one."""
    ids = [core.store.create_execution(d, {"n": i}) for i, d in enumerate(definitions)]
    core.engine.submit(ids[0])
    for ex_id in ids:
        assert core.engine.wait(ex_id, timeout), f"execution {ex_id} never finished: {core.store.executions[ex_id]}"
    return [core.result(ex_id) for ex_id in ids]


def assert_the_good_ones_succeeded(results: list[dict[str, Any]], bad: set[int]) -> None:
    for i, result in enumerate(results):
        if i not in bad:
            assert result["status"] == "succeeded", (i, result["status"], result["error"])
            assert result["output"] == {"out": i}  # its own output, nobody else's


def test_a_bad_saved_setting_fails_that_execution_at_its_claim_and_no_other(core):
    bad = {**GOOD, "settings": {"maxConcurrency": "abc"}}
    results = run_many(core, [bad, *[GOOD] * 6])
    assert results[0]["status"] == "failed"
    assert "invalid definition" in results[0]["error"]["message"]
    assert "maxConcurrency" in json.dumps(results[0]["error"])  # which setting, in the message or its errors
    assert results[0]["engine_id"] == ""  # released: nobody owns it idle
    assert results[0]["events"][-1]["type"] == "execution.failed"
    assert_the_good_ones_succeeded(results, {0})
    assert run_many(core, [GOOD])[0]["status"] == "succeeded"  # the engine goes on


def test_an_unplannable_execution_claimed_alone_fails_too(core):
    # Nothing else is written in that tick: its failure alone must still reach the store.
    result = run_many(core, [{**GOOD, "settings": {"maxConcurrency": "abc"}}])[0]
    assert (result["status"], result["engine_id"]) == ("failed", "")


class Explosive(dict):
    """A node output that raises when the engine reads it: an unforeseen bug in handling one
    execution's result, which must stay that execution's problem."""

    def items(self):  # type: ignore[override]
        raise RuntimeError("boom: this value cannot be read")


class ExplosiveNode(NodeType):
    type = "test_explosive"
    title = "Explosive"

    def run(self, ctx: NodeContext) -> Any:  # on a worker: the result reaches the coordinator as a message
        return Explosive(a=1)


class ExplosiveLaterNode(NodeType):
    type = "test_explosive_later"
    title = "Explosive later"
    inline = True

    def run(self, ctx: NodeContext) -> Any:  # its output is read when its timer fires
        return Sleep(20, output=Explosive(a=1))


@pytest.fixture
def explosive_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, ExplosiveNode.type, ExplosiveNode)
    monkeypatch.setitem(REGISTRY, ExplosiveLaterNode.type, ExplosiveLaterNode)


@pytest.mark.parametrize("node_type", ["test_explosive", "test_explosive_later"])
def test_an_exception_handling_a_node_result_or_a_timer_fails_that_execution(core, explosive_nodes, node_type):
    bad = graph([START, {"id": "x", "type": node_type}], [("start", "x")])
    results = run_many(core, [GOOD, GOOD, bad, GOOD])
    assert results[2]["status"] == "failed"
    assert results[2]["error"]["message"] == "internal error: RuntimeError: boom: this value cannot be read"
    assert [r["status"] for r in results[2]["by_node"]["x"]] == ["cancelled"]
    assert_the_good_ones_succeeded(results, {2})
    assert run_many(core, [GOOD])[0]["status"] == "succeeded"  # the engine goes on


def test_an_exception_applying_a_signal_fails_that_execution_and_the_engine_goes_on(core, monkeypatch):
    def broken_pause(ex: Any, record: Any, *, cleanup: bool) -> None:  # a bug in one signal's handling
        raise RuntimeError("boom: pause handler broke")

    monkeypatch.setattr("engine.core.signals._pause", broken_pause)
    slow = graph([START, {"id": "wait", "type": "delay", "config": {"duration": 30_000}}], [("start", "wait")])
    ex_id = core.store.create_execution(slow, {})
    other = core.store.create_execution(slow, {})
    core.engine.submit(ex_id)
    deadline = time.monotonic() + 5
    while len([r for r in core.store.node_runs.values() if r["status"] == "running"]) < 2:
        assert time.monotonic() < deadline, "the runs never started"
        time.sleep(0.01)
    core.store.signals.append((ex_id, SignalRecord(id=1, type="pause", reason="hold on", sent_by="alice")))
    core.engine.signal(ex_id)
    # Ended by the failed signal, not by its 30 s delay: a third of that is far above any
    # machine's overhead.
    assert core.engine.wait(ex_id, 10), "the execution went on after its signal's handling failed"
    result = core.result(ex_id)
    assert result["status"] == "failed"
    assert result["error"]["message"] == "internal error: RuntimeError: boom: pause handler broke"
    assert [r["status"] for r in result["by_node"]["wait"]] == ["cancelled"]
    assert core.store.executions[other]["status"] == "running"  # untouched
    assert run_many(core, [GOOD])[0]["status"] == "succeeded"


def test_recovery_starts_or_fails_every_execution_it_claims():
    """Executions left running by a dead engine, the first of them unplannable: a new engine
    takes all of them over and starts every other one."""
    store = MemoryPersistence()
    bad = {**GOOD, "settings": {"maxConcurrency": "abc"}}
    ids = [store.create_execution(d, {"n": i}) for i, d in enumerate([bad, GOOD, *[GOOD] * 12])]
    for ex_id in ids:
        store.executions[ex_id].update(status="running", engine_id="dead-engine", heartbeat_at=None)
    store.executions[ids[1]]["state"] = {"variables": "not an object"}  # stored state of the wrong shape
    engine = Engine(store, poll_interval=0.05, max_workers=4).start()
    try:
        for ex_id in ids:
            assert engine.wait(ex_id, 10), f"execution {ex_id} was left {store.executions[ex_id]['status']}"
        core = CoreRunner.__new__(CoreRunner)
        core.store, core.engine = store, engine
        results = [core.result(ex_id) for ex_id in ids]
        assert results[0]["status"] == "failed" and "invalid definition" in results[0]["error"]["message"]
        assert results[1]["status"] == "failed" and "internal error" in results[1]["error"]["message"]
        assert all(r["engine_id"] == "" for r in results[:2])
        assert_the_good_ones_succeeded(results, {0, 1})
    finally:
        engine.stop(1)


class PoisonNode(NodeType):
    """Returns a value the store cannot hold, on a worker thread."""

    type = "test_poison"
    title = "Poison"

    def run(self, ctx: NodeContext) -> Any:
        time.sleep(0.02)
        return {"price": math.nan}


@pytest.fixture
def poison_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(REGISTRY, PoisonNode.type, PoisonNode)
    # The node-output check would refuse it first; the writer is the last line behind it.
    monkeypatch.setattr("engine.core.attempts.storable", lambda value, **_: value)
    yield


def test_state_that_cannot_be_written_fails_that_execution_only(core, poison_node, monkeypatch):
    failed_flushes = []
    flush = core.store.flush

    def counting_flush(batch: Any, engine_id: str) -> set[str]:
        try:
            return flush(batch, engine_id)
        except ValueError:
            failed_flushes.append(len(batch.executions))
            raise

    monkeypatch.setattr(core.store, "flush", counting_flush)
    bad = graph([START, {"id": "poison", "type": "test_poison"},
                 {"id": "out", "type": "output", "name": "out", "config": {"value": "{{poison}}"}}],
                [("start", "poison"), ("poison", "out")])
    started = time.monotonic()
    results = run_many(core, [*[GOOD] * 10, bad, *[GOOD] * 10])
    assert results[10]["status"] == "failed"
    assert "could not be saved" in results[10]["error"]["message"]
    assert "NaN" in results[10]["error"]["message"] or "not JSON compliant" in results[10]["error"]["message"]
    assert results[10]["events"][-1]["type"] == "execution.failed"
    assert_the_good_ones_succeeded(results, {10})
    # Refused once as part of a shared write, once alone: no retrying, no stall.
    assert 1 <= len(failed_flushes) <= 4, failed_flushes
    assert time.monotonic() - started < 5
