"""engine.cluster itself: a process that started a local cluster and is killed from outside
(a CI timeout, `kill -9`) takes the cluster's processes with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

STARTER = """
import sys, time
from engine.cluster import LocalCluster
cluster = LocalCluster("sqlite:///unused.sqlite3")
cluster.start_redis()
print(cluster.procs[0].popen.pid, flush=True)
time.sleep(120)
"""


def test_a_killed_starter_leaves_no_cluster_process_behind() -> None:
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "DJANGO_SETTINGS_MODULE": "flowmaestro.settings"})
    redis: psutil.Process | None = None
    try:
        assert starter.stdout is not None
        redis_pid = int(starter.stdout.readline())
        redis = psutil.Process(redis_pid)
        assert redis.is_running() and "redis-server" in " ".join(redis.cmdline())
        starter.kill()  # SIGKILL: no `finally`, no atexit in the starter
        starter.wait(10)
        deadline = time.monotonic() + 10
        while redis.is_running() and redis.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "redis-server outlived the process that started it"
            time.sleep(0.05)
    finally:
        starter.kill()
        if redis is not None and redis.is_running():
            redis.kill()  # this test failed: the next runs need the CPU
