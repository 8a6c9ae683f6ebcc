"""`make cluster` as an operator runs it (README "Scaling out"), against a PostgreSQL
database of its own: it prints a login, both daphne answer, a run recorded through one is
done by the workers and read through the other; Ctrl-C stops everything, Redis last, with
no traceback and no process left behind. (`-o setup`: the dependencies and the front end
are the test run's own; setting them up is `make run`'s business.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from engine.cluster import free_port
from tests.scaleout.conftest import _database
from tests.scaleout.test_no_worker import DEFINITION

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url() -> Iterator[str]:
    url, drop = _database()
    yield url
    drop()


def _ours(ports: list[int]) -> list[str]:
    """Processes still running that belong to this cluster (by its ports)."""
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(re.search(rf"(?<!\d){port}(?!\d)", line) for port in ports) and ("redis-server" in line
                                                                                or "daphne" in line or "celery" in line):
            left.append(f"{proc.pid}: {line}")
    return left


def test_make_cluster_serves_runs_and_ctrl_c_stops_it_cleanly(database_url: str, tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    ports = {"REDIS_PORT": free_port(), "WEB1_PORT": free_port(), "WEB2_PORT": free_port(), "FLOWER_PORT": free_port()}
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DJANGO_SETTINGS_MODULE", "REDIS_URL",
                        "FLOWMAESTRO_EXECUTOR", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"DATABASE_URL": database_url, "TMPDIR": str(tmp_path), **{k: str(v) for k, v in ports.items()}})
    log = tmp_path / "cluster.log"
    with log.open("wb") as out:
        # Its own session, so that Ctrl-C can be sent the way a terminal sends it: to the group.
        started = subprocess.Popen([make, "-o", "setup", "cluster"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count(" ready.") < 2:
            assert started.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)
        text = log.read_text()
        token = re.search(r"Token:\s+([0-9a-f]{40})", text)
        assert token and "Password: " in text, text[:3000]
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{ports[name]}", timeout=30,
                                headers={"Authorization": f"Token {token.group(1)}"}) for name in ("WEB1_PORT", "WEB2_PORT")]
        workflow = clients[0].post("/api/workflows", json={"name": "Hello", "definition": DEFINITION}).json()["id"]
        run = clients[0].post(f"/api/workflows/{workflow}/run", json={"input": {}}).json()["id"]
        while (status := clients[1].get(f"/api/executions/{run}").json()["status"]) != "succeeded":
            assert status in ("queued", "running") and time.monotonic() < deadline, status
            time.sleep(0.2)
        # Ctrl-C while a node body runs on a worker: its warm shutdown still talks to Redis.
        slow = {**DEFINITION, "nodes": [*DEFINITION["nodes"], {
            "id": "slow", "type": "http", "name": "Slow", "position": {"x": 120, "y": 0},
            "config": {"method": "GET", "url": f"http://127.0.0.1:{ports['WEB1_PORT']}/demo-api/slow",
                       "query": {"ms": 4000}, "timeout": 10000}}],
            "edges": [{"id": "e1", "source": "start", "target": "slow"}, {"id": "e2", "source": "slow", "target": "out"}]}
        workflow = clients[0].post("/api/workflows", json={"name": "Slow", "definition": slow}).json()["id"]
        run = clients[0].post(f"/api/workflows/{workflow}/run", json={"input": {}}).json()["id"]
        while clients[1].get(f"/api/executions/{run}").json()["nodeRunCounts"].get("running", 0) == 0:
            assert time.monotonic() < deadline, "the slow node never started"
            time.sleep(0.1)
        time.sleep(0.5)
        for client in clients:
            client.close()

        shown = len(log.read_text())
        os.killpg(started.pid, signal.SIGINT)  # Ctrl-C
        started.wait(30)
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
    after = log.read_text()[shown:]
    assert "Traceback" not in after, after[-4000:]
    deadline = time.monotonic() + 10
    while left := _ours(list(ports.values())):
        assert time.monotonic() < deadline, f"left running after Ctrl-C: {left}"
        time.sleep(0.2)
