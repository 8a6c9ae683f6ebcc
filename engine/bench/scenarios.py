"""The in-process scenarios of SPEC §9 (`manage.py bench NAME`): the engine of this process
runs each workflow on the scratch database. Each returns its metrics
(`{"scenario", "metric", "value", "unit", …}`).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError

from engine.bench import workloads as bench
from engine.bench.harness import Harness


def chain(h: Harness) -> list[dict[str, Any]]:
    n = h.n(1000)
    wall, _ = h.run_definition(bench.chain_definition(n))
    return [bench.metric("chain", "overhead_per_node", wall * 1000 / n, "ms", nodes=n)]

def fanout(h: Harness) -> list[dict[str, Any]]:
    width = h.n(400)
    ideal = width * 0.010 / 8
    wall, _ = h.run_definition(bench.fanout_definition(width, 10, 8))
    return [bench.metric("fanout", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3),
                         ideal_s=round(ideal, 3))]

def loop(h: Harness) -> list[dict[str, Any]]:
    items = h.n(h.loop_items)
    ideal = items * 0.050 / 100
    with bench.RssSampler() as rss:
        wall, _ = h.run_definition(bench.loop_definition(50, 100), {"items": list(range(items))})
    return [
        bench.metric("loop", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3), ideal_s=round(ideal, 3),
                     items=items),
        bench.metric("loop", "peak_rss_mb", rss.peak / 2**20, "MB", growth_mb=round((rss.peak - rss.start_rss) / 2**20, 1)),
    ]

def lattice(h: Harness) -> list[dict[str, Any]]:
    layers = max(2, h.n(20))
    ideal = layers * 0.010
    wall, _ = h.run_definition(bench.lattice_definition(layers, 10, 10))
    return [bench.metric("lattice", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3),
                         ideal_s=round(ideal, 3))]

def baseline(h: Harness) -> list[dict[str, Any]]:
    width = h.n(400)
    fan = bench.bare_executor(width, 0.010, 8) / (width * 0.010 / 8)
    items = h.n(10_000)
    loop = bench.bare_executor(items, 0.050, 100) / (items * 0.050 / 100)
    return [bench.metric("baseline-fanout", "ratio_to_ideal", fan, "x"),
            bench.metric("baseline-loop", "ratio_to_ideal", loop, "x")]

def redrive(h: Harness) -> list[dict[str, Any]]:
    """A 10,000-item loop with 12 failing items, fixed, then redriven: the redrive runs
    12 items (and the loop and its output) while the other 9,988 are kept, so it should
    take a small fraction of the first run (the rest is loading and replaying rows)."""
    from editor.models import WorkflowVersion
    from engine import services
    from engine.models import Execution, NodeRun

    items = h.n(10_000)
    failing = set(range(7, items, max(1, items // 12)))
    flaky = bench.redrive_definition(sorted(failing))
    fixed = bench.redrive_definition([])
    wf_first = time.perf_counter()
    try:
        h.run_definition(flaky, {"items": list(range(items))})
    except CommandError:
        pass  # it fails: that is the point
    first = time.perf_counter() - wf_first
    ex = Execution.objects.filter(workflow__name=flaky["name"]).latest("id")
    if ex.status != "failed":
        raise CommandError(f"redrive: the first run should fail, it {ex.status}")
    wf = ex.workflow
    wf.version += 1
    wf.definition = fixed
    wf.save()
    WorkflowVersion.objects.create(workflow=wf, number=wf.version, definition=fixed)
    rows_before = NodeRun.objects.filter(execution=ex).count()
    t0 = time.perf_counter()
    services.execution_redrive(execution=ex, user=h.user, version="latest")
    h.engine.submit(ex.id)
    # The engine's finish flag of this execution is already set by its first run: poll.
    while time.perf_counter() - t0 < 600:
        ex.refresh_from_db()
        if ex.status in ("succeeded", "failed", "cancelled", "timed_out"):
            break
        time.sleep(0.005)
    redrive = time.perf_counter() - t0
    if ex.status != "succeeded":
        raise CommandError(f"redrive: {ex.status}: {ex.error}")
    rerun = NodeRun.objects.filter(execution=ex).count() - rows_before
    return [bench.metric("redrive", "fraction_of_first_run", redrive / first, "x", redrive_s=round(redrive, 3),
                         first_run_s=round(first, 3), items=items, failed_items=len(failing),
                         node_runs_rerun=rerun)]


def peers(h: Harness) -> list[dict[str, Any]]:
    """The same fanout and loop sleeps on other engines, for side-by-side reading."""
    width, items = h.n(400), h.n(h.loop_items)
    shapes = {"fanout": (width, 0.010, 8), "loop": (items, 0.050, 100)}
    out = []
    for peer, run in (("dask", bench.peer_dask), ("prefect", bench.peer_prefect)):
        for shape, (tasks, seconds, workers) in shapes.items():
            wall = run(tasks, seconds, workers)
            if wall is None:
                h.log(f"{peer} is not installed: pip install -e '.[bench]'")
                break
            out.append(bench.metric(f"{peer}-{shape}", "ratio_to_ideal", wall / (tasks * seconds / workers), "x",
                                    wall_s=round(wall, 3)))
    return out
