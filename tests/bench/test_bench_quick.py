"""`manage.py bench --quick --json` runs every SPEC §9 scenario end to end (scratch database,
real engine, daphne for `runs` and `stream`) and reports every metric under its exact name.

Only generous sanity bounds are asserted: the goals themselves are read from the full-size
bench (README, "Performance"), on a quiet machine, side by side with the baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_quick_bench_reports_every_metric_of_every_scenario() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "all", "--quick", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        # The bench makes its own scratch SQLite database, in the PostgreSQL pass too.
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = {(m["scenario"], m["metric"]): m for m in map(json.loads, done.stdout.splitlines()) if m}
    assert set(metrics) == {
        ("chain", "overhead_per_node"),
        ("fanout", "ratio_to_ideal"),
        ("loop", "ratio_to_ideal"),
        ("loop", "peak_rss_mb"),
        ("lattice", "ratio_to_ideal"),
        ("runs", "executions_per_s"),
        ("stream", "events_per_s"),
        ("stream", "p99_latency"),
        ("baseline-fanout", "ratio_to_ideal"),
        ("baseline-loop", "ratio_to_ideal"),
    }
    for key in [("fanout", "ratio_to_ideal"), ("loop", "ratio_to_ideal"), ("lattice", "ratio_to_ideal")]:
        # Parallel work really ran in parallel: far below the sequential sum, never below ideal.
        assert 1.0 <= metrics[key]["value"] < 8.0, metrics[key]
    assert 0 < metrics[("chain", "overhead_per_node")]["value"] < 50
    assert metrics[("runs", "executions_per_s")]["value"] > 1
    assert metrics[("runs", "executions_per_s")]["failed"] == 0
    assert metrics[("stream", "events_per_s")]["value"] > 10
    assert metrics[("stream", "events_per_s")]["clients"] == 10
