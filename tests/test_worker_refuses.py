"""A Celery worker started without the settings queue mode needs says so and exits, instead
of retrying redis://localhost:6379 a hundred times (no REDIS_URL) or running without a
coordinator, so that the runs it is woken for stay queued (no FLOWMAESTRO_EXECUTOR=celery)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).with_name("celery")


@pytest.mark.parametrize(("env", "missing"), [
    ({}, "REDIS_URL and FLOWMAESTRO_EXECUTOR=celery not set"),
    # A closed port: the worker must refuse before it ever tries to connect.
    ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "FLOWMAESTRO_EXECUTOR=celery not set"),
])
def test_worker_without_queue_mode_settings_exits_with_one_line(tmp_path: Path, env: dict[str, str],
                                                               missing: str) -> None:
    base = {k: v for k, v in os.environ.items()
            if k not in ("REDIS_URL", "FLOWMAESTRO_EXECUTOR", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    try:
        done = subprocess.run([str(CELERY), "-A", "flowmaestro", "worker", "-Q", "executions,nodes"],
                              cwd=ROOT, capture_output=True, text=True, timeout=30,
                              env={**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env})
    except subprocess.TimeoutExpired:
        pytest.fail("the worker kept running (retrying a broker) instead of refusing to start")
    assert done.returncode == 1
    assert f"Refusing to start the worker: {missing}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
