"""The executor seam (engine.executors): node bodies that run "elsewhere" and report back
by attempt id, as a Celery worker does, give the same results as the thread pool, and a
result reported twice (a redelivered task) is recorded once."""

from __future__ import annotations

import json
import threading
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
