"""The web process keeps its GIL-bound threads on one core (`flowmaestro.affinity`), and
what runs outside the GIL keeps every core: the engine's worker threads and the JavaScript
sandbox's processes. Checked in a child process, so the test process itself stays unpinned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least two CPUs",
)

SCRIPT = r"""
import json, os, threading
from concurrent.futures import ThreadPoolExecutor
from flowmaestro import affinity
from engine.core.engine import Engine
from engine.core.persistence import MemoryPersistence

before = sorted(os.sched_getaffinity(0))
cpu = affinity.pin_process_threads("auto")
seen = {}
t = threading.Thread(target=lambda: seen.update(thread=sorted(os.sched_getaffinity(0))))
t.start(); t.join()
engine = Engine(MemoryPersistence(), max_workers=2, worker_initializer=affinity.release)
import queue
from types import SimpleNamespace
answers = queue.Queue()
engine.executor.start(SimpleNamespace(done=lambda attempt, value, exc: answers.put((value, exc))))
engine.executor.submit(SimpleNamespace(ctx=SimpleNamespace(owner=None, execution_id=None),
                                       impl=SimpleNamespace(run=lambda ctx: sorted(os.sched_getaffinity(0)))))
worker, failure = answers.get(timeout=30)
assert failure is None, failure
engine.executor.shutdown()
from engine.expressions.process import WorkerProcess
sandbox = WorkerProcess()
child = sorted(os.sched_getaffinity(sandbox.proc.pid))
sandbox.close()
print(json.dumps({"before": before, "cpu": cpu, "main": sorted(os.sched_getaffinity(0)),
                  "thread": seen["thread"], "worker": worker, "sandbox": child,
                  "off": affinity.pin_process_threads("off")}))
"""


def test_gil_bound_threads_share_one_core_and_node_bodies_and_v8_keep_them_all() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flowmaestro.settings"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["cpu"] in seen["before"]
    assert seen["main"] == [seen["cpu"]]  # the thread that pinned
    assert seen["thread"] == [seen["cpu"]]  # a thread it started afterwards inherits the pin
    assert seen["worker"] == seen["before"]  # the engine's workers get every core back
    assert seen["sandbox"] == seen["before"]  # so do the V8 sandbox processes
    assert seen["off"] is None


def test_pinning_is_skipped_when_off_or_on_a_cpu_that_is_not_allowed() -> None:
    script = ("from flowmaestro import affinity; import os; "
              "print(affinity.pin_process_threads('off'), affinity.pin_process_threads('9999'), "
              "affinity.pinned(), len(os.sched_getaffinity(0)) > 1)")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    assert out == ["None", "None", "False", "True"]
    refused = subprocess.run([sys.executable, "-c", "from flowmaestro import affinity; affinity.pin_process_threads('one')"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "auto, off or a CPU number" in refused.stderr
