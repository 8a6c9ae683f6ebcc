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
        ("redrive", "fraction_of_first_run"),
    }
    for key in [("fanout", "ratio_to_ideal"), ("loop", "ratio_to_ideal"), ("lattice", "ratio_to_ideal")]:
        # Parallel work really ran in parallel: far below the sequential sum, never below ideal.
        assert 1.0 <= metrics[key]["value"] < 8.0, metrics[key]
    assert 0 < metrics[("chain", "overhead_per_node")]["value"] < 50
    assert metrics[("runs", "executions_per_s")]["value"] > 1
    assert metrics[("runs", "executions_per_s")]["failed"] == 0
    assert metrics[("stream", "events_per_s")]["value"] > 10
    assert metrics[("stream", "events_per_s")]["clients"] == 10
    redrive = metrics[("redrive", "fraction_of_first_run")]
    # 12 of the loop's items ran again (with their loop and output), not all of them.
    assert redrive["node_runs_rerun"] == 12 * 3 + 2 and redrive["value"] < 1.0, redrive


def test_quick_prune_bench_removes_the_events_next_to_the_stream() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "prune", "--quick", "--json", "--events", "200000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = {(m["scenario"], m["metric"]): m for m in map(json.loads, done.stdout.splitlines()) if m}
    assert set(metrics) == {("prune", "stream_p99_ratio"), ("prune", "events_per_s")}
    assert metrics[("prune", "events_per_s")]["events"] >= 20_000  # --quick: a tenth of --events
    assert metrics[("prune", "stream_p99_ratio")]["value"] > 0
