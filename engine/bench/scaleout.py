"""`manage.py bench scaleout`: the Celery executor on a local cluster of real processes
(engine.cluster: Redis, Celery workers, two daphne) on a throw-away PostgreSQL database.

- `celery_fanout_ratio_to_ideal`: a fan-out of 400 `http` nodes, each a 10 ms call to a
  sleep server, through the Celery executor on 8 slots (two workers × 4), wall / ideal
  (400 × 10 ms / 8); beside it `raw_celery_fanout_ratio_to_ideal`: a Celery `group` of the
  same 400 calls on the same workers, with no engine around them;
- `speedup_2_workers`: a loop of 400 items × ~20 ms of JavaScript on one worker process of
  one slot, then on two: the wall-time ratio;
- `cluster_executions_per_s`: 3-node runs posted through both daphne, coordinated by the
  workers (the single-process figure beside it is the `runs` scenario).
Each figure is the median of `repeat` runs after one warm-up.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from engine.bench import workloads as bench
from engine.cluster import LocalCluster, prepare_database

SLOTS_PER_WORKER = 4


class SleepServer:
    """The sleep the fan-out's node bodies call (daphne would be the bottleneck at ~800
    requests/s): `engine.bench.sleepserver` in a process of its own, so that neither our
    `http` nodes nor raw Celery's GETs wait for the GIL of the bench process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.bench.sleepserver"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parents[2])
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def url(self, ms: int) -> str:
        return f"http://127.0.0.1:{self.port}/sleep?ms={ms}"


def http_fanout_definition(width: int, url: str, concurrency: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "config": {}}]
    edges = []
    for i in range(width):
        nodes.append({"id": f"h{i}", "type": "http", "config": {"method": "GET", "url": url}})
        edges.append({"id": f"a{i}", "source": "start", "target": f"h{i}"})
        edges.append({"id": f"b{i}", "source": f"h{i}", "target": "merge"})
    nodes.append({"id": "merge", "type": "merge", "config": {"output": "first"}})
    return {"schemaVersion": 1, "name": f"bench celery fanout {width}", "settings": {"maxConcurrency": concurrency},
            "nodes": nodes, "edges": edges}


def js_loop_definition(ms: int) -> dict[str, Any]:
    spin = f"const t = Date.now(); while (Date.now() - t < {ms}) {{}} return item;"
    return {
        "schemaVersion": 1, "name": "bench cpu loop", "settings": {"maxConcurrency": 16},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "parallel": True,
                                                      "maxConcurrency": 16, "itemVariable": "item"}},
            {"id": "spin", "type": "transform", "parentId": "loop",
             "config": {"operation": "custom", "expression": spin}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "loop"}],
    }


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ScaleoutBench:
    def __init__(self, database_url: str, scale: float, log: Callable[[str], None]):
        self.scale = scale
        self.log = log
        self.database_url = database_url
        self.login = prepare_database(database_url, "bench")
        self.cluster = LocalCluster(database_url, env={"FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "true",
                                                       "FLOWMAESTRO_POLL_INTERVAL": "0.5"})
        self.sleeper = SleepServer()

    def n(self, full: int) -> int:
        return max(1, int(full * self.scale))

    # -- plumbing --------------------------------------------------------------------------
    def start(self) -> None:
        self.cluster.start_redis()
        self.d1 = self.cluster.start_daphne("d1")
        self.d2 = self.cluster.start_daphne("d2")
        self.clients = [httpx.Client(base_url=f"http://{d.address}", timeout=60,
                                     headers={"Authorization": f"Token {self.login['token']}"})
                        for d in (self.d1, self.d2)]
        self.workers(2, SLOTS_PER_WORKER)

    def workers(self, count: int, slots: int) -> None:
        for proc in [p for p in self.cluster.procs if p.name.startswith("w") and p.alive()]:
            self.cluster.kill(proc, 15)
        started = [self.cluster.start_worker(f"w{i + 1}", concurrency=slots, wait=False) for i in range(count)]
        for proc in started:
            self.cluster.wait_ready(proc)
        time.sleep(1.0)  # the sandbox warm-up of a fresh worker

    def stop(self) -> None:
        for client in getattr(self, "clients", []):
            client.close()
        self.sleeper.stop()
        self.cluster.stop()

    def create(self, definition: dict[str, Any]) -> int:
        r = self.clients[0].post("/api/workflows", json={"name": definition["name"], "definition": definition})
        r.raise_for_status()
        return int(r.json()["id"])

    def run(self, workflow_id: int, input: Any = None, timeout: float = 300) -> float:
        """Seconds from the run's creation to its end, by the server's own timestamps. The
        end is watched in the database: polling the API's execution detail (its node runs
        included) every 50 ms cost a daphne ~1 s of CPU during a 400-node fan-out, CPU the
        cluster under test then lacked."""
        import psycopg

        r = self.clients[0].post(f"/api/workflows/{workflow_id}/run", json={"input": input or {}})
        r.raise_for_status()
        execution_id = r.json()["id"]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            while True:
                time.sleep(0.02)
                row = conn.execute("SELECT status FROM engine_execution WHERE id = %s", (execution_id,)).fetchone()
                if row is not None and row[0] not in ("queued", "running", "paused"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"execution {execution_id} did not finish")
        ex = self.clients[1].get(f"/api/executions/{execution_id}").json()
        if ex["status"] != "succeeded":
            raise RuntimeError(f"execution {execution_id} {ex['status']}: {ex['error']}")
        return (_stamp(ex["finishedAt"]) - _stamp(ex["createdAt"])).total_seconds()

    # -- measurements ------------------------------------------------------------------------
    def fanout(self) -> float:
        width = self.n(400)
        if not hasattr(self, "fanout_wf"):
            self.fanout_wf = self.create(http_fanout_definition(width, self.sleeper.url(10), 8))
        return self.run(self.fanout_wf) / (width * 0.010 / 8)

    def raw_fanout(self) -> float:
        from celery import Celery, group

        width = self.n(400)
        app = Celery("bench", broker=self.cluster.redis_url)
        app.conf.task_ignore_result = True
        reply = f"flowmaestro:bench:{uuid.uuid4().hex}"
        import redis

        # Past the BLPOP's own wait: redis-py 8 gives every socket a 5 s timeout, which would
        # end a wait for a slow reply with a TimeoutError instead of the error below.
        r = redis.Redis.from_url(self.cluster.redis_url, socket_timeout=130)
        url = self.sleeper.url(10)
        t0 = time.perf_counter()
        group(app.signature("flowmaestro.bench.get", args=(url, reply), queue="nodes")
              for _ in range(width)).apply_async()
        for _ in range(width):
            if r.blpop([reply], timeout=120) is None:
                raise RuntimeError("raw celery fan-out did not finish")
        wall = time.perf_counter() - t0
        r.close()
        return wall / (width * 0.010 / 8)

    def with_cpu(self, measure: Callable[[], float], into: dict[str, float], per: int) -> Callable[[], float]:
        """`measure`, adding each process's CPU milliseconds per `per` (a fan-out's bodies)
        during it to `into`: on a 2-core machine the sum over processes bounds the fan-out's
        wall time from below (sum × width / 2 cores), whatever the latencies."""
        def measured() -> float:
            cpu0 = self._cpu()
            value = measure()
            cpu1 = self._cpu()
            for name in cpu1:
                into[name] = into.get(name, 0.0) + (cpu1[name] - cpu0.get(name, 0.0)) * 1000 / per
            return value
        return measured

    def cpu_loop(self) -> float:
        items = self.n(400)
        if not hasattr(self, "loop_wf"):
            self.loop_wf = self.create(js_loop_definition(20))
        return self.run(self.loop_wf, {"items": list(range(items))})

    def runs_per_s(self) -> float:
        total = self.n(1000)
        if not hasattr(self, "runs_wf"):
            self.runs_wf = self.create(bench.three_node_definition())
        cpu0 = self._cpu()
        t0 = time.perf_counter()

        def post(i: int) -> int:
            r = self.clients[i % 2].post(f"/api/workflows/{self.runs_wf}/run", json={"input": {"i": i}})
            r.raise_for_status()
            return int(r.json()["id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(post, range(total)))
        import psycopg

        deadline = time.monotonic() + 300
        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT count(*) FROM engine_execution WHERE id = ANY(%s) "
                                   "AND status IN ('queued', 'running')", (ids,)).fetchone()
                if row is not None and row[0] == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("cluster runs did not finish")
                time.sleep(0.02)
        wall = time.perf_counter() - t0
        cpu1 = self._cpu()
        # Where the CPU went, per run: each process of the cluster (with its children) and
        # this client; on a 2-core machine their sum bounds the runs per second.
        self.cpu_ms_per_run = {name: round((cpu1[name] - cpu0.get(name, 0.0)) * 1000 / total, 2) for name in cpu1}
        return total / wall

    def _cpu(self) -> dict[str, float]:
        import psutil

        def seconds(process: psutil.Process, reaped: bool = False) -> float:
            # With `reaped`, also the children that ended (a worker's sandbox, a backend).
            try:
                return float(sum(process.cpu_times()[:4 if reaped else 2]))
            except psutil.Error:
                return 0.0

        found = {"client": seconds(psutil.Process())}
        if self.sleeper.proc.poll() is None:
            found["sleeper"] = seconds(psutil.Process(self.sleeper.proc.pid))
        for proc in self.cluster.procs:
            if proc.alive():
                try:
                    root = psutil.Process(proc.popen.pid)
                    found[proc.name] = seconds(root, True) + sum(seconds(c) for c in root.children(recursive=True))
                except psutil.Error:
                    pass
        postmaster = self._postmaster()
        if postmaster is not None:
            found["postgres"] = seconds(postmaster, True) + sum(seconds(c) for c in postmaster.children())
        return found

    def _postmaster(self) -> Any:
        """The PostgreSQL server of the bench database when it runs on this machine (its
        data directory's postmaster.pid, asked of the server itself), else None."""
        import psutil
        import psycopg

        try:
            with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1)) as conn:
                row = conn.execute("SELECT pg_backend_pid()").fetchone()
            return psutil.Process(int(row[0])).parent() if row else None
        except Exception:  # noqa: BLE001 - a remote server: no breakdown for it
            return None


def in_turns(first: Callable[[], float], second: Callable[[], float], repeat: int) -> tuple[list[float], list[float]]:
    """Two measurements taken in turns (first, second, first, …), so that a change in the
    machine's speed between minutes (this VM's own swings by a fifth) falls on both alike
    instead of on whichever was measured in that block."""
    a: list[float] = []
    z: list[float] = []
    for _ in range(repeat):
        a.append(first())
        z.append(second())
    return a, z


def summary(values: list[float], **extra: Any) -> dict[str, Any]:
    """The median and the runs of one measurement, as the JSON line carries them."""
    return {"value": round(statistics.median(values), 4), "runs": [round(v, 4) for v in values], **extra}


def per_measurement(total: dict[str, float], repeat: int) -> dict[str, float]:
    """CPU per body summed over `repeat` measurements, as the mean of one, with its total."""
    mean = {name: round(ms / repeat, 2) for name, ms in total.items()}
    return {**mean, "total": round(sum(mean.values()), 2)}


def by_turn(a: list[float], z: list[float]) -> list[float]:
    """Each turn's ratio of the first measurement to the second."""
    return [round(x / y, 4) for x, y in zip(a, z, strict=True)]


def scaleout_scenario(database_url: str, *, scale: float, repeat: int, quick: bool,
                      log: Callable[[str], None], single: Callable[[], float]) -> list[dict[str, Any]]:
    """The metrics of `bench scaleout`; `single` measures the single process's runs/s (the
    `runs` scenario) and is called in turns with the cluster's."""
    b = ScaleoutBench(database_url, scale, log)
    out: list[dict[str, Any]] = []
    try:
        b.start()
        warm = ({}, {}) if quick else ({"warmUp": round(b.fanout(), 4)}, {"warmUp": round(b.raw_fanout(), 4)})
        # Where each fan-out's CPU went, per body and process (the sleep server included), so
        # that the floor CPU puts under the ratio is read off the JSON, not guessed.
        fan_cpu: dict[str, float] = {}
        raw_cpu: dict[str, float] = {}
        fan, raw = in_turns(b.with_cpu(b.fanout, fan_cpu, b.n(400)), b.with_cpu(b.raw_fanout, raw_cpu, b.n(400)), repeat)
        out.append({**bench.metric("scaleout", "celery_fanout_ratio_to_ideal", 0, "x", width=b.n(400), slots=8),
                    **summary(fan, ratioToRawByTurn=by_turn(fan, raw), **warm[0]),
                    "cpu_ms_per_body_by_process": per_measurement(fan_cpu, repeat)})
        out.append({**bench.metric("scaleout", "raw_celery_fanout_ratio_to_ideal", 0, "x", width=b.n(400), slots=8),
                    **summary(raw, **warm[1]), "cpu_ms_per_body_by_process": per_measurement(raw_cpu, repeat)})

        # The cluster stays up, idle, while the single process is measured: what it spent
        # meanwhile is reported beside the figure (CPU seconds per second).
        idle = {"cpu": 0.0, "wall": 0.0}

        def single_beside_idle_cluster() -> float:
            cpu0, t0 = b._cpu(), time.perf_counter()
            value = single()
            cpu1 = b._cpu()
            idle["wall"] += time.perf_counter() - t0
            idle["cpu"] += sum(cpu1[name] - cpu0.get(name, 0.0) for name in cpu1 if name != "client")
            return value

        if not quick:
            b.runs_per_s()
            single()
        cluster, alone = in_turns(b.runs_per_s, single_beside_idle_cluster, repeat)
        out.append({**bench.metric("scaleout", "cluster_executions_per_s", 0, "1/s", runs=b.n(1000),
                                   topology="2 daphne + 2 Celery workers, PostgreSQL",
                                   cpu_ms_per_run_by_process=b.cpu_ms_per_run),
                    **summary(cluster, ratioToSingleByTurn=by_turn(cluster, alone))})
        out.append({**bench.metric("scaleout", "single_executions_per_s", 0, "1/s", runs=b.n(1000),
                                   topology="1 daphne, engine in-process, SQLite"),
                    **summary(alone, clusterIdleCpuShare=round(idle["cpu"] / idle["wall"], 4) if idle["wall"] else None)})

        def loop_on(workers: int) -> Callable[[], float]:
            def measure() -> float:
                b.workers(workers, 1)
                if not quick:
                    b.cpu_loop()  # the warm-up of the fresh workers
                return b.cpu_loop()
            return measure

        one, two = in_turns(loop_on(1), loop_on(2), repeat)
        on_one, on_two = summary(one), summary(two)
        out.append({**bench.metric("scaleout", "speedup_2_workers", 0, "x", items=b.n(400),
                                   one_worker_s=on_one["value"], two_workers_s=on_two["value"],
                                   one_runs=on_one["runs"], two_runs=on_two["runs"], ratioByTurn=by_turn(one, two)),
                    "value": round(on_one["value"] / on_two["value"], 4)})
    finally:
        b.stop()
    return out
