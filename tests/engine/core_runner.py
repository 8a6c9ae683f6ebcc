"""The real engine (coordinator, scheduler, timers, worker pool) on in-memory persistence:
no database, so a run takes milliseconds. The `core` fixture (tests/engine/conftest.py)
gives each test one."""

from __future__ import annotations

from typing import Any

from engine.core.engine import Engine
from engine.core.persistence import MemoryPersistence


class CoreRunner:
    def __init__(self) -> None:
        self.store = MemoryPersistence()
        self.engine = Engine(self.store, poll_interval=0.05, max_workers=8).start()

    def run(self, definition: dict[str, Any], input: Any = None, timeout: float = 10) -> dict[str, Any]:
        ex_id = self.store.create_execution(definition, input or {}, trace_id="trace-abc123")
        self.engine.submit(ex_id)
        assert self.engine.wait(ex_id, timeout), "execution did not finish"
        return self.result(ex_id)

    def result(self, ex_id: int) -> dict[str, Any]:
        ex = dict(self.store.executions[ex_id])
        runs = sorted((r for r in self.store.node_runs.values() if r["execution_id"] == ex_id), key=lambda r: r["seq"])
        ex["runs"] = runs
        ex["by_node"] = {}
        for r in runs:
            ex["by_node"].setdefault(r["node_id"], []).append(r)
        ex["events"] = [e for e in self.store.events if e["execution_id"] == ex_id]
        return ex
