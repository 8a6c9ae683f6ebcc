"""The executor seam (engine.executors): node bodies that run "elsewhere" and report back
by attempt id, as a Celery worker does, give the same results as the thread pool, and a
result reported twice (a redelivered task) is recorded once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from engine.core.engine import Engine
from engine.core.persistence import MemoryPersistence
from engine.executors import wire
from engine.executors.base import Reports
from engine.executors.thread import ThreadExecutor
from engine.nodes import get_node_type
from tests.engine.definitions import START, definition


class EchoingRemote:
    """Remote-capable bodies go through the wire format (JSON both ways) and run on a
    thread of their own from the decoded context, like a worker process would; each result
    is reported `deliveries` times. Everything else runs on the usual thread pool."""

    def __init__(self, deliveries: int = 2):
        self.local = ThreadExecutor(4)
        self.deliveries = deliveries
        self.sent: list[str] = []
        self.reports: Reports | None = None

    def start(self, reports: Reports) -> None:
        self.reports = reports
        self.local.start(reports)

    def submit(self, attempt: Any) -> None:
        if not type(attempt.impl).runs_remote(attempt.ctx.config):
            self.local.submit(attempt)
            return
        payload = json.loads(json.dumps(wire.call(attempt, "reply-list")))
        self.sent.append(payload["type"])
        threading.Thread(target=self._work, args=(payload,)).start()

    def _work(self, payload: dict[str, Any]) -> None:
        reports = self.reports
        assert reports is not None
        ctx = wire.context(payload)
        ctx.log_sink = lambda line: reports.remote_log(payload["attempt"], line)
        impl = get_node_type(payload["type"])()  # type: ignore[misc]
        try:
            value, exc = impl.run(ctx), None
        except Exception as error:  # noqa: BLE001
            value, exc = None, error
        data = json.loads(json.dumps(wire.outcome(value, exc)))
        for _ in range(self.deliveries):
            reports.remote_done(payload["attempt"], *wire.settle(data))

    def shutdown(self) -> None:
        self.local.shutdown()


FLOW = definition(
    [
        START,
        {"id": "double", "type": "transform", "name": "double",
         "config": {"operation": "custom", "expression": "console.log('doubling', input.n); return {n: input.n * 2}"}},
        {"id": "big", "type": "condition", "name": "big?", "config": {"expression": "input.n > 5"}},
        {"id": "yes", "type": "output", "name": "yes", "config": {"value": "{{double.n}}"}},
        {"id": "no", "type": "output", "name": "no", "config": {"value": "small"}},
        {"id": "boom", "type": "transform", "name": "boom",
         "config": {"operation": "custom", "expression": "throw new Error('nope')", "onError": "route"}},
        {"id": "caught", "type": "output", "name": "caught", "config": {"value": "{{boom.error.message}}"}},
    ],
    [("start", "double"), ("double", "big"), {"source": "big", "target": "yes", "sourceHandle": "true"},
     {"source": "big", "target": "no", "sourceHandle": "false"}, ("start", "boom"),
     {"source": "boom", "target": "caught", "sourceHandle": "error"}],
)


def _run(executor: Any) -> dict[str, Any]:
    store = MemoryPersistence()
    engine = Engine(store, poll_interval=0.05, executor=executor).start()
    try:
        ex_id = store.create_execution(FLOW, {"n": 4}, trace_id="trace-seam")
        engine.submit(ex_id)
        assert engine.wait(ex_id, 20), "execution did not finish"
    finally:
        engine.stop(1)
    runs = [r for r in store.node_runs.values() if r["execution_id"] == ex_id]
    events = [e for e in store.events if e["execution_id"] == ex_id]
    return {"status": store.executions[ex_id]["status"], "output": store.executions[ex_id].get("output"),
            "runs": runs, "events": events}


def test_remote_bodies_match_the_thread_pool_and_are_recorded_once() -> None:
    remote = EchoingRemote(deliveries=2)
    by_threads, by_remote = _run(ThreadExecutor(4)), _run(remote)
    assert sorted(remote.sent) == ["condition", "transform", "transform"]  # outputs stayed inline
    assert by_remote["status"] == by_threads["status"] == "succeeded"
    assert by_remote["output"] == by_threads["output"]
    assert by_remote["output"] == {"yes": 8, "caught": "Expression threw Error: nope (line 1)"}

    def summary(result: dict[str, Any]) -> list[tuple[str, str, Any, str]]:
        return sorted((r["node_id"], r["status"], json.dumps(r["output"], sort_keys=True), r["handle"])
                      for r in result["runs"])

    assert summary(by_remote) == summary(by_threads)
    # Each node ran once and ended once although every remote result arrived twice.
    assert Counter(r["node_id"] for r in by_remote["runs"]) == Counter(r["node_id"] for r in by_threads["runs"])
    ends = Counter(e["node_id"] for e in by_remote["events"] if e["type"] in ("node.succeeded", "node.failed"))
    assert ends and set(ends.values()) == {1}
    # The log line written in the worker reached the run's log.
    logs = [e["data"]["message"] for e in by_remote["events"] if e["type"] == "log" and e["node_id"] == "double"]
    assert logs == ["doubling 4"]


class EarlyRemote(EchoingRemote):
    """A remote executor that `submits_before_commit` (as the Celery executor does): bodies
    leave as soon as the coordinator starts them. Notes which left before their start was
    committed, and whether each body was called off."""

    submits_before_commit = True

    def __init__(self, store: MemoryPersistence, deliveries: int = 2):
        super().__init__(deliveries)
        self.store = store
        self.before_commit: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, attempt: Any) -> None:
        with self.store.lock:
            row = self.store.node_runs.get(attempt.id)
            if row is None or row["status"] != "running":
                self.before_commit.append(attempt.ctx.node_id)
        attempt.ctx.on_cancel(lambda: self.cancelled.append(attempt.ctx.node_id))
        super().submit(attempt)


class SlowStore(MemoryPersistence):
    """Commits take 60 ms (a busy database), so remote results come back before the start
    of their node run is committed; a claim of a node listed in `refuse` is lost (another
    engine won it) and nothing of it is written."""

    def __init__(self, refuse: tuple[str, ...] = ()):
        super().__init__()
        self.refuse = refuse

    def flush(self, batch: Any, engine_id: str) -> set[str]:
        time.sleep(0.06)
        refused = {run_id for run_id in batch.claims if batch.node_runs[run_id]["node_id"] in self.refuse}
        for run_id in refused:
            del batch.node_runs[run_id]
        batch.events = [e for e in batch.events if e.get("node_run_id") not in refused]
        batch.claims = [run_id for run_id in batch.claims if run_id not in refused]
        return super().flush(batch, engine_id) | refused


def test_bodies_sent_before_their_start_is_committed_are_recorded_after_it_once() -> None:
    store = SlowStore()
    remote = EarlyRemote(store, deliveries=2)
    by_threads = _run(ThreadExecutor(4))
    engine = Engine(store, poll_interval=0.05, executor=remote).start()
    try:
        ex_id = store.create_execution(FLOW, {"n": 4}, trace_id="trace-early")
        engine.submit(ex_id)
        assert engine.wait(ex_id, 20), "execution did not finish"
    finally:
        engine.stop(1)
    # The bodies really left before their start was written, and answered twice meanwhile.
    assert sorted(remote.before_commit) == ["big", "boom", "double"]
    assert store.executions[ex_id]["status"] == "succeeded"
    assert store.executions[ex_id]["output"] == by_threads["output"] == {"yes": 8, "caught": "Expression threw Error: nope (line 1)"}
    events = sorted((e for e in store.events if e["execution_id"] == ex_id), key=lambda e: e["seq"])
    for node in ("double", "big", "boom"):
        kinds = [e["type"] for e in events if e["node_id"] == node and e["type"].startswith("node.")]
        # Started (committed) before it ended, and ended exactly once.
        assert kinds.index("node.started") < kinds.index("node.succeeded" if node != "boom" else "node.failed"), kinds
        assert len([k for k in kinds if k in ("node.succeeded", "node.failed")]) == 1, kinds
    assert not remote.cancelled


def test_a_body_sent_before_its_claim_was_lost_is_not_recorded_and_is_called_off() -> None:
    store = SlowStore(refuse=("double",))
    remote = EarlyRemote(store, deliveries=1)
    engine = Engine(store, poll_interval=0.05, executor=remote).start()
    try:
        ex_id = store.create_execution(FLOW, {"n": 4}, trace_id="trace-lost")
        engine.submit(ex_id)
        deadline = time.monotonic() + 10
        while "double" not in remote.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # its result (already reported or about to be) has had time to arrive
    finally:
        engine.stop(1)
    assert "double" in remote.before_commit and "double" in remote.cancelled
    # Another engine won `double`: its body ran here too, but nothing of it was written,
    # and nothing that would follow from its result started.
    runs = {r["node_id"]: r["status"] for r in store.node_runs.values() if r["execution_id"] == ex_id}
    assert "double" not in runs and "big" not in runs, runs
    assert runs["caught"] == "succeeded"  # the other branch went on
