"""Benchmark scenarios of SPEC §9, run against the full engine (persistence and events on).

Each scenario returns a list of metric dicts `{"scenario", "metric", "value", "unit", …}`.
Ratios are measured against the scenario's ideal and, in the same run, against a bare
`ThreadPoolExecutor` doing the same waits (the floor), so they read the same on a noisy
machine.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil

Metric = dict[str, Any]


def metric(scenario: str, name: str, value: float, unit: str, **extra: Any) -> Metric:
    return {"scenario": scenario, "metric": name, "value": round(value, 4), "unit": unit, **extra}


class RssSampler:
    """Peak resident memory while a scenario runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        self.process = psutil.Process(os.getpid())
        self.start_rss = self.process.memory_info().rss
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- definitions ------------------------------------------------------------------------
def chain_definition(n: int) -> dict[str, Any]:
    nodes = [{"id": "start", "type": "start", "config": {}}]
    edges = []
    previous = "start"
    for i in range(n):
        node_id = f"n{i}"
        nodes.append({"id": node_id, "type": "transform", "config": {"operation": "passthrough"}})
        edges.append({"id": f"e{i}", "source": previous, "target": node_id})
        previous = node_id
    return {"schemaVersion": 1, "name": f"bench chain {n}", "settings": {"maxConcurrency": 8},
            "nodes": nodes, "edges": edges}


def fanout_definition(width: int, ms: int, concurrency: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    edges = []
    for i in range(width):
        nodes.append({"id": f"d{i}", "type": "delay", "config": {"duration": ms}})
        edges.append({"id": f"a{i}", "source": "start", "target": f"d{i}"})
        edges.append({"id": f"b{i}", "source": f"d{i}", "target": "merge"})
    nodes.append({"id": "merge", "type": "merge", "config": {}})
    return {"schemaVersion": 1, "name": f"bench fanout {width}", "settings": {"maxConcurrency": concurrency},
            "nodes": nodes, "edges": edges}


def loop_definition(ms: int, concurrency: int) -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "bench loop", "settings": {"maxConcurrency": concurrency},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "parallel": True,
                                                      "maxConcurrency": concurrency, "itemVariable": "item"}},
            {"id": "wait", "type": "delay", "parentId": "loop", "config": {"duration": ms}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "loop"}],
    }


def lattice_definition(layers: int, width: int, ms: int) -> dict[str, Any]:
    """`layers` layers of `width` delay nodes; every node of a layer waits for all of the
    layer before it. The layers are joined by a `merge` (mode `all`, output `first`) rather
    than width × width direct edges: a node with several inputs receives all of them, and a
    delay passes its input on, so direct edges would grow the data width-fold per layer
    (10^20 values at full size). The dependency structure — a barrier per layer — is the same."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    edges = []
    previous = "start"
    for layer in range(layers):
        join = f"join{layer}"
        for i in range(width):
            node_id = f"l{layer}_{i}"
            nodes.append({"id": node_id, "type": "delay", "config": {"duration": ms}})
            edges.append({"id": f"{previous}>{node_id}", "source": previous, "target": node_id})
            edges.append({"id": f"{node_id}>{join}", "source": node_id, "target": join})
        nodes.append({"id": join, "type": "merge", "config": {"mode": "all", "output": "first"}})
        previous = join
    return {"schemaVersion": 1, "name": "bench lattice", "settings": {"maxConcurrency": width * 2},
            "nodes": nodes, "edges": edges}


def redrive_definition(failing: list[int]) -> dict[str, Any]:
    """start → loop over `input.items` (100 at a time) with a `set` node per item that fails
    for the item numbers in `failing` (a condition routes them to a `fail` node) → output."""
    bad = "[" + ",".join(str(i) for i in failing) + "]"
    return {
        "schemaVersion": 1, "name": f"bench redrive {len(failing)}", "settings": {"maxConcurrency": 100},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "maxConcurrency": 100}},
            {"id": "check", "type": "condition", "parentId": "loop",
             "config": {"expression": f"{bad}.indexOf(item) === -1"}},
            {"id": "ok", "type": "set", "parentId": "loop", "config": {"values": {"n": "{{item}}"}}},
            {"id": "boom", "type": "fail", "parentId": "loop", "config": {"message": "bad item"}},
            {"id": "o", "type": "output", "config": {"value": "{{loop}}"}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "loop"},
            {"id": "e2", "source": "check", "target": "ok", "sourceHandle": "true"},
            {"id": "e3", "source": "check", "target": "boom", "sourceHandle": "false"},
            {"id": "e4", "source": "loop", "target": "o"},
        ],
    }


def three_node_definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "bench runs", "settings": {"maxConcurrency": 8},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "shape", "type": "transform", "config": {"operation": "passthrough"}},
            {"id": "out", "type": "output", "name": "out", "config": {"value": "{{shape}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "shape"}, {"id": "e2", "source": "shape", "target": "out"}],
    }


# -- the floor ----------------------------------------------------------------------------
def bare_executor(tasks: int, seconds: float, workers: int) -> float:
    """Wall time of `tasks` sleeps of `seconds` on a bare ThreadPoolExecutor."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: time.sleep(seconds), range(tasks)))
    return time.perf_counter() - t0



# -- peers (`--peers`; optional: `pip install -e '.[bench]'`) ------------------------------
def peer_dask(tasks: int, seconds: float, workers: int) -> float | None:
    """Wall time of the same sleeps as dask.delayed tasks on Dask's threaded scheduler."""
    try:
        import dask
    except ImportError:
        return None

    def wait(_: int) -> None:
        time.sleep(seconds)

    work = [dask.delayed(wait)(i) for i in range(tasks)]
    t0 = time.perf_counter()
    dask.compute(*work, scheduler="threads", num_workers=workers)
    return time.perf_counter() - t0


def peer_prefect(tasks: int, seconds: float, workers: int) -> float | None:
    """Wall time of the same sleeps as a Prefect 3 flow mapping a task on a thread pool."""
    try:
        from prefect import flow, task
        from prefect.task_runners import ThreadPoolTaskRunner
    except ImportError:
        return None

    @task
    def wait(_: int) -> None:
        time.sleep(seconds)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=workers), log_prints=False)
    def fan() -> None:
        wait.map(range(tasks)).result()

    t0 = time.perf_counter()
    fan()
    return time.perf_counter() - t0
