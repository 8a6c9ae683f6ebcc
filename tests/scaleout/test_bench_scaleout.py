"""`manage.py bench scaleout --quick --json` end to end on real processes (a Celery cluster
on a PostgreSQL database of its own, the single process on SQLite): every metric of the
scenario under its exact name, the single process measured in turns with the cluster.

Only sanity bounds: the goals are read from the full-size bench on a quiet machine
(docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scaleout.conftest import _database

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_quick_scaleout_bench_reports_its_metrics_with_the_single_process_in_turns() -> None:
    url, drop = _database()
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "bench", "scaleout", "--quick", "--json", "--database-url", url],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
            # The single process gets the bench's own scratch SQLite database, in the PostgreSQL pass too.
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        )
    finally:
        drop()
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = {m["metric"]: m for m in map(json.loads, done.stdout.splitlines()) if m and m["scenario"] == "scaleout"}
    assert set(metrics) == {"celery_fanout_ratio_to_ideal", "raw_celery_fanout_ratio_to_ideal", "speedup_2_workers",
                            "cluster_executions_per_s", "single_executions_per_s"}
    for name in ("celery_fanout_ratio_to_ideal", "raw_celery_fanout_ratio_to_ideal"):
        assert 1.0 <= metrics[name]["value"] < 60, metrics[name]  # never below ideal
        # Where each fan-out's CPU went, per body: the workers ran the bodies, the sleep
        # server is counted too, and the parts add up to the total. (Process CPU comes in
        # 10 ms clock ticks: the few bodies of --quick can cost the sleep server none.)
        cpu = metrics[name]["cpu_ms_per_body_by_process"]
        assert cpu["w1"] + cpu["w2"] > 0 and cpu["sleeper"] >= 0, cpu
        assert cpu["total"] == pytest.approx(sum(v for k, v in cpu.items() if k != "total"), abs=0.05), cpu
    # Two worker processes of one slot finish the JavaScript loop sooner than one.
    speedup = metrics["speedup_2_workers"]
    assert speedup["two_workers_s"] < speedup["one_worker_s"] and speedup["value"] > 1.1, speedup
    assert len(speedup["ratioByTurn"]) == 1
    assert len(metrics["celery_fanout_ratio_to_ideal"]["ratioToRawByTurn"]) == 1
    cluster, single = metrics["cluster_executions_per_s"], metrics["single_executions_per_s"]
    assert cluster["value"] > 1 and single["value"] > 1
    # In turns: one cluster figure and one single figure per turn, and their ratio per turn.
    assert len(cluster["runs"]) == len(single["runs"]) == len(cluster["ratioToSingleByTurn"]) == 1
    assert cluster["ratioToSingleByTurn"][0] == pytest.approx(cluster["runs"][0] / single["runs"][0], rel=1e-3)
    # What the idle cluster spent beside the single process: reported, and small.
    assert 0 <= single["clusterIdleCpuShare"] < 0.5, single
