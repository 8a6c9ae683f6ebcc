"""Parallel loops (SPEC §4.4): concurrency, rate limit, batches, policies, nesting."""

from __future__ import annotations

import time

from engine.core.policies import RateLimiter
from tests.engine.definitions import NOT_WAITED_S, SLOW_MS, START, loop_definition
from tests.engine.definitions import peak_concurrency as shared_peak


def peak_concurrency(runs):
    return shared_peak((r["started_at"], r["finished_at"]) for r in runs)


def test_parallel_loop_respects_max_concurrency_and_beats_sequential(core, graph):
    d = loop_definition({"maxConcurrency": 10}, [{"id": "work", "type": "delay", "config": {"duration": 100}}],
                   maxConcurrency=50)
    t = time.monotonic()
    ex = core.run(d, {"items": list(range(40))})
    wall = time.monotonic() - t
    assert ex["status"] == "succeeded"
    assert ex["output"]["o"] == list(range(40))  # body output = its input item, in item order
    assert wall < 1.0, f"40 × 100 ms at concurrency 10 took {wall:.2f}s (sequential: 4 s)"
    assert peak_concurrency(ex["by_node"]["work"]) == 10


def test_execution_max_concurrency_still_caps_loop_bodies(core, graph):
    d = loop_definition({"maxConcurrency": 10}, [{"id": "work", "type": "delay", "config": {"duration": 50}}],
                   maxConcurrency=3)
    ex = core.run(d, {"items": list(range(12))})
    assert peak_concurrency(ex["by_node"]["work"]) == 3


def test_sequential_loop(core, graph):
    d = loop_definition({"parallel": False}, [{"id": "work", "type": "delay", "config": {"duration": 20}}])
    ex = core.run(d, {"items": [1, 2, 3, 4]})
    assert peak_concurrency(ex["by_node"]["work"]) == 1
    assert ex["output"]["o"] == [1, 2, 3, 4]


def test_rate_limit_spreads_starts(core, graph):
    d = loop_definition({"maxConcurrency": 10, "rateLimit": 20},
                   [{"id": "work", "type": "delay", "config": {"duration": 1}}])
    ex = core.run(d, {"items": list(range(6))})
    starts = sorted(r["started_at"] for r in ex["by_node"]["work"])
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.04, gaps  # 20/s → one start every 50 ms, never a burst
    assert (starts[-1] - starts[0]).total_seconds() >= 0.24


def test_rate_limiter_with_a_fake_clock():
    now = [100.0]
    limiter = RateLimiter(4, clock=lambda: now[0])
    assert limiter.wait_time() == 0
    limiter.take()
    assert limiter.wait_time() == 0.25
    now[0] += 0.1
    assert abs(limiter.wait_time() - 0.15) < 1e-9
    now[0] += 1.0  # idle time does not bank a burst
    limiter.take()
    assert limiter.wait_time() == 0.25


def test_batches_run_one_after_another_with_delay(core, graph):
    d = loop_definition({"maxConcurrency": 5, "batchSize": 2, "delayBetweenBatches": 100},
                   [{"id": "work", "type": "delay", "config": {"duration": 30}},
                    {"id": "tag", "type": "output", "config": {"value": "{{parallel.batchId}}"}}],
                   [("work", "tag")])
    ex = core.run(d, {"items": list(range(5))})
    assert ex["output"]["o"] == [0, 0, 1, 1, 2]
    work = sorted(ex["by_node"]["work"], key=lambda r: r["iteration"])
    # Batch 2 starts after batch 1 finished plus the delay.
    batch1_end = max(r["finished_at"] for r in work[:2])
    assert (work[2]["started_at"] - batch1_end).total_seconds() >= 0.09


def test_collect_continue_fail_and_min_success_rate(core, graph):
    body = [{"id": "check", "type": "condition", "config": {"expression": "item % 2 === 0"}},
            {"id": "boom", "type": "fail", "config": {"message": "odd {{item}}"}},
            {"id": "fine", "type": "output", "config": {"value": "{{item}}"}}]
    edges = [{"source": "check", "target": "fine", "sourceHandle": "true"},
             {"source": "check", "target": "boom", "sourceHandle": "false"}]

    def run(parallel):
        d = loop_definition({"parallel": parallel}, body)
        d["edges"] += [{"id": f"b{i}", **e} for i, e in enumerate(edges)]
        return core.run(d, {"items": [0, 1, 2, 3]})

    collected = run({"onPartialFailure": "collect"})
    assert collected["status"] == "succeeded"
    out = collected["output"]["o"]
    assert out["successCount"] == 2 and out["failureCount"] == 2
    assert out["results"][1]["success"] is False and "odd 1" in str(out["results"][1]["error"])
    continued = run({"onPartialFailure": "continue", "collectErrors": True})
    assert continued["output"]["o"]["results"] == [{"fine": 0}, {"fine": 2}] or continued["output"]["o"]["results"] == [0, 2]
    assert len(continued["output"]["o"]["errors"]) == 2
    failed = run({"onPartialFailure": "fail"})
    assert failed["status"] == "failed"
    rate = run({"onPartialFailure": "continue", "minSuccessRate": 0.8})
    assert rate["status"] == "failed"


def test_nested_loops(core, graph):
    d = graph([START,
               {"id": "outer", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "row"}},
               {"id": "inner", "type": "loop", "parentId": "outer", "config": {"arrayPath": "{{row}}", "itemVariable": "cell"}},
               {"id": "double", "type": "output", "parentId": "inner", "config": {"value": "{{cell}}"}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{outer}}"}}],
              [("start", "outer"), ("outer", "o")])
    ex = core.run(d, {"rows": [[1, 2], [3], []]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == [[1, 2], [3], []]
    traces = sorted(r["trace_id"] for r in ex["by_node"]["double"])
    assert traces == ["trace-abc123-001-001", "trace-abc123-001-002", "trace-abc123-002-001"]


def test_fail_fast_loop_cancels_running_items(core, graph):
    body = [{"id": "pick", "type": "condition", "config": {"expression": "item === 0"}},
            {"id": "wait", "type": "delay", "config": {"duration": 150}},
            {"id": "boom", "type": "fail", "config": {"message": "first item fails"}},
            {"id": "slow", "type": "delay", "config": {"duration": SLOW_MS}}]
    d = loop_definition({"parallel": {"failFast": True, "cancelOnFailure": True}}, body)
    d["edges"] += [{"id": "x1", "source": "pick", "target": "wait", "sourceHandle": "true"},
                   {"id": "x3", "source": "wait", "target": "boom"},
                   {"id": "x2", "source": "pick", "target": "slow", "sourceHandle": "false"}]
    t = time.monotonic()
    ex = core.run(d, {"items": [0, 1, 2]})
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "failed"
    slow = [r for r in ex["by_node"]["slow"] if r["iteration"] != 0]  # item 0 took the other path
    assert [r["status"] for r in slow] == ["cancelled", "cancelled"]
    assert ex["by_node"]["loop"][0]["status"] == "failed"
