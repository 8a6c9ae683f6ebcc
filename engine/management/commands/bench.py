"""`manage.py bench SCENARIO [--json] [--quick]` — the benchmarks of SPEC §9.

Runs on a throw-away SQLite database (WAL) with the real engine, persistence and event
announcing on; `runs` and `stream` also start daphne on a free port.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from engine import bench
from engine.runtime import start_engine, stop_engine
from flowmaestro.settings import DEVELOPMENT_SECRET_KEY

SCENARIOS = ["chain", "fanout", "loop", "lattice", "runs", "stream", "baseline", "redrive"]


class Command(BaseCommand):
    help = "Run the FlowMaestro benchmarks (SPEC §9): " + ", ".join(SCENARIOS) + ", or all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("scenario", nargs="?", default="all", choices=[*SCENARIOS, "all", "scaleout", "prune", "bigloop"],
                            help="`all` is every scenario but `scaleout` (a local cluster: Redis, Celery "
                                 "workers, two daphne, PostgreSQL), `prune` (a million events written "
                                 "first) and `bigloop` (a 1,000,000-item loop on daphne, watched and "
                                 "cancelled; run once), which run only when named")
        parser.add_argument("--database-url", default="",
                            help="`scaleout` only: an empty PostgreSQL database to use (default: a throw-away "
                                 "cluster started from the PostgreSQL binaries, as the tests do)")
        parser.add_argument("--json", action="store_true", help="one JSON object per metric per line")
        parser.add_argument("--quick", action="store_true", help="each scenario at a tenth of its size")
        parser.add_argument("--repeat", type=int, default=None,
                            help="measured runs per scenario, after one warm-up run (none with --quick); "
                                 "the median is reported, with every run's value (default 3, as the goals "
                                 "are medians; 1 with --quick)")
        parser.add_argument("--peers", action="store_true",
                            help="also run fanout and loop on Dask and Prefect when installed (extra `bench`)")
        parser.add_argument("--web-workers", type=int, default=0,
                            help="`runs` only, a scale-out variant: N daphne processes without an engine, "
                                 "one `manage.py runengine`, clients spread over the N (default 0: SPEC §9's "
                                 "single daphne with the engine in-process)")
        parser.add_argument("--events", type=int, default=1_000_000,
                            help="events of the old execution the `prune` scenario removes")
        parser.add_argument("--items", type=int, default=None,
                            help="items of the `loop` scenario (default 10000; e.g. 100000 for the scale "
                                 "check) or of `bigloop` (default 1000000)")
        parser.add_argument("--cancel-after", type=float, default=60.0,
                            help="`bigloop` only: seconds after which the loop is cancelled (0: it runs to "
                                 "its end)")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        self.scale = 0.1 if options["quick"] else 1.0
        self.loop_items = options["items"] or 10_000
        self.bigloop_items = options["items"] or 1_000_000
        self.cancel_after = options["cancel_after"]
        self.web_workers = max(0, options["web_workers"])
        repeat = max(1, options["repeat"] if options["repeat"] is not None else (1 if options["quick"] else 3))
        scenarios = SCENARIOS if options["scenario"] == "all" else [options["scenario"]]
        self.prune_events = options["events"]
        self.tmp = tempfile.mkdtemp(prefix="flowmaestro-bench-")
        # Its daphne servers refuse the development key (DEBUG off), and the session cookies
        # this process makes for the stream clients must be valid there: one key for both.
        if not os.environ.get("DJANGO_SECRET_KEY") and settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
            settings.SECRET_KEY = self.server_key
        self._use_scratch_database()
        settings.FLOWMAESTRO_HOUSEKEEPING = False  # see _server_env
        # The process-wide engine, at its default poll interval: `execution_start` wakes it,
        # and the bench waits on it (no polling in the measured path).
        self.engine = start_engine()
        if options["scenario"] == "bigloop":  # minutes long: one run, no warm-up, no median
            try:
                for m in self.bench_bigloop():
                    self.emit(m)
            finally:
                stop_engine(1)
                connections["default"].close()
                shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if options["scenario"] == "scaleout":
            try:
                self.bench_scaleout(options["database_url"], repeat, options["quick"])
            finally:
                stop_engine(1)
                connections["default"].close()
                shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            for scenario in scenarios:
                run = getattr(self, f"bench_{scenario}")
                # One warm-up run first (not with --quick): the first run of a new workflow
                # also validates and plans it (10–20 ms for the 220-node lattice) and warms
                # the process. It is reported as `warmUp`, not hidden, and not in the median.
                warm_up = None if options["quick"] else run()
                runs = [run() for _ in range(repeat)]
                for i in range(len(runs[0])):
                    values = [r[i]["value"] for r in runs]
                    median = statistics.median(values)
                    # Its other figures (wall time, …) from the run nearest the median.
                    nearest = min(runs, key=lambda r: abs(r[i]["value"] - median))[i]
                    self.emit({**nearest, "value": round(median, 4),
                               **({"runs": values} if repeat > 1 else {}),
                               **({"warmUp": warm_up[i]["value"]} if warm_up else {})})
            if options["peers"]:
                for m in self.bench_peers():
                    self.emit(m)
        finally:
            stop_engine(1)
            connections["default"].close()
            shutil.rmtree(self.tmp, ignore_errors=True)  # the scratch database (tens of MB)

    # -- plumbing --------------------------------------------------------------------------
    def _use_scratch_database(self) -> None:
        if connections["default"].vendor != "sqlite":
            # Only the file name of the database is swapped for the scratch one below.
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise CommandError("the bench runs on a scratch SQLite database: run it without a "
                               "PostgreSQL DATABASE_URL")
        self.db_path = os.path.join(self.tmp, "bench.sqlite3")
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = self.db_path
        settings.DATABASES["default"]["NAME"] = self.db_path
        call_command("migrate", verbosity=0, interactive=False)
        from django.contrib.auth.models import User

        self.user, _ = User.objects.get_or_create(username="bench")

    def emit(self, m: dict[str, Any]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(m))
        else:
            extra = {k: v for k, v in m.items() if k not in ("scenario", "metric", "value", "unit")}
            self.stdout.write(f"{m['scenario']:>16}  {m['metric']:<18} {m['value']:>10} {m['unit']:<6} {extra or ''}")
        self.stdout.flush()

    def n(self, full: int) -> int:
        return max(1, int(full * self.scale))

    def run_definition(self, definition: dict[str, Any], input: Any = None, timeout: float = 600) -> tuple[float, Any]:
        from editor.models import Workflow, WorkflowVersion
        from engine import services
        from engine.models import Execution

        wf = Workflow.objects.create(owner=self.user, name=definition["name"], definition=definition, version=1)
        WorkflowVersion.objects.create(workflow=wf, number=1, definition=definition)
        t0 = time.perf_counter()
        ex = services.execution_start(workflow=wf, user=self.user, input=input or {})
        self.engine.submit(ex.id)
        if not self.engine.wait(ex.id, timeout):
            raise CommandError(f"{definition['name']}: execution {ex.id} did not finish in {timeout}s")
        wall = time.perf_counter() - t0
        ex = Execution.objects.get(id=ex.id)
        if ex.status != "succeeded":
            raise CommandError(f"{definition['name']}: execution {ex.id} {ex.status}: {ex.error}")
        return wall, ex

    # -- scenarios ---------------------------------------------------------------------------
    def bench_chain(self) -> list[dict[str, Any]]:
        n = self.n(1000)
        wall, _ = self.run_definition(bench.chain_definition(n))
        return [bench.metric("chain", "overhead_per_node", wall * 1000 / n, "ms", nodes=n)]

    def bench_fanout(self) -> list[dict[str, Any]]:
        width = self.n(400)
        ideal = width * 0.010 / 8
        wall, _ = self.run_definition(bench.fanout_definition(width, 10, 8))
        return [bench.metric("fanout", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3),
                             ideal_s=round(ideal, 3))]

    def bench_loop(self) -> list[dict[str, Any]]:
        items = self.n(self.loop_items)
        ideal = items * 0.050 / 100
        with bench.RssSampler() as rss:
            wall, _ = self.run_definition(bench.loop_definition(50, 100), {"items": list(range(items))})
        return [
            bench.metric("loop", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3), ideal_s=round(ideal, 3),
                         items=items),
            bench.metric("loop", "peak_rss_mb", rss.peak / 2**20, "MB", growth_mb=round((rss.peak - rss.start_rss) / 2**20, 1)),
        ]

    def bench_lattice(self) -> list[dict[str, Any]]:
        layers = max(2, self.n(20))
        ideal = layers * 0.010
        wall, _ = self.run_definition(bench.lattice_definition(layers, 10, 10))
        return [bench.metric("lattice", "ratio_to_ideal", wall / ideal, "x", wall_s=round(wall, 3),
                             ideal_s=round(ideal, 3))]

    def bench_baseline(self) -> list[dict[str, Any]]:
        width = self.n(400)
        fan = bench.bare_executor(width, 0.010, 8) / (width * 0.010 / 8)
        items = self.n(10_000)
        loop = bench.bare_executor(items, 0.050, 100) / (items * 0.050 / 100)
        return [bench.metric("baseline-fanout", "ratio_to_ideal", fan, "x"),
                bench.metric("baseline-loop", "ratio_to_ideal", loop, "x")]

    def bench_redrive(self) -> list[dict[str, Any]]:
        """A 10,000-item loop with 12 failing items, fixed, then redriven: the redrive runs
        12 items (and the loop and its output) while the other 9,988 are kept, so it should
        take a small fraction of the first run (the rest is loading and replaying rows)."""
        from editor.models import WorkflowVersion
        from engine import services
        from engine.models import Execution, NodeRun

        items = self.n(10_000)
        failing = set(range(7, items, max(1, items // 12)))
        flaky = bench.redrive_definition(sorted(failing))
        fixed = bench.redrive_definition([])
        wf_first = time.perf_counter()
        try:
            self.run_definition(flaky, {"items": list(range(items))})
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
        services.execution_redrive(execution=ex, user=self.user, version="latest")
        self.engine.submit(ex.id)
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

    def bench_prune(self) -> list[dict[str, Any]]:
        """Retention removes an old execution of a million events (in small batches) while
        the `stream` scenario runs: its p99 latency beside the same scenario without pruning."""
        import threading

        from engine.bench_stream import stream_scenario
        from engine.retention import prune

        events = self.n(self.prune_events)
        old = self._old_execution_with_events(events)
        stop_engine(1)
        proc, url = self._daphne()
        try:
            quiet = stream_scenario(url, self.user, self.n(1000))
            done = threading.Event()
            report: dict[str, Any] = {}

            def pruning() -> None:
                t0 = time.perf_counter()
                deleted = 0
                while True:
                    r = prune(budget_s=2.0)
                    deleted += r.events_deleted
                    report.setdefault("batches", []).extend(r.batches)
                    if r.finished and r.executions_deleted == 0 and not r.events_deleted:
                        break
                report["seconds"] = time.perf_counter() - t0
                report["deleted"] = deleted
                connections.close_all()
                done.set()

            thread = threading.Thread(target=pruning, daemon=True)
            thread.start()
            busy = stream_scenario(url, self.user, self.n(1000))
            still_pruning = not done.is_set()
            done.wait(600)
        finally:
            proc.terminate()
            proc.wait(10)
            self.engine = start_engine()
        from engine.models import Execution

        if Execution.objects.filter(pk=old).exists():
            raise CommandError("prune: the old execution is still there")
        p99 = {m["metric"]: m["value"] for m in quiet}["p99_latency"]
        p99_busy = {m["metric"]: m["value"] for m in busy}["p99_latency"]
        batches = sorted(report.get("batches") or [0.0])
        return [
            bench.metric("prune", "stream_p99_ratio", p99_busy / p99 if p99 else 0.0, "x", p99_quiet_ms=p99,
                         p99_while_pruning_ms=p99_busy, pruning_overlapped=still_pruning),
            bench.metric("prune", "events_per_s", report.get("deleted", 0) / max(report.get("seconds", 1), 1e-9),
                         "1/s", events=report.get("deleted", 0), seconds=round(report.get("seconds", 0), 2),
                         batch_p99_ms=round(batches[int(len(batches) * 0.99) - 1 if len(batches) > 1 else 0] * 1000, 2)),
        ]

    def _old_execution_with_events(self, events: int) -> int:
        """An execution finished 400 days ago with `events` events, written in bulk."""
        from datetime import timedelta

        from django.db import connection, transaction
        from django.utils import timezone

        from engine.models import Event, Execution

        _, ex = self.run_definition(bench.chain_definition(3))
        ts = timezone.now() - timedelta(days=400)
        Execution.objects.filter(pk=ex.pk).update(created_at=ts, finished_at=ts)
        table, qn = Event._meta.db_table, connection.ops.quote_name
        columns = ["execution_id", "seq", "type", "ts", "node_id", "node_run_id", "branch_id", "branch_name",
                   "trace_id", "status"]
        sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        stamp = connection.ops.adapt_datetimefield_value(ts)
        chunk = 50_000
        with connection.cursor() as cursor:
            for start in range(0, events, chunk):
                with transaction.atomic():
                    cursor.executemany(sql, [(ex.pk, 1000 + i, "node.started", stamp, "n", "", "main", "main", ex.trace_id, "")
                                             for i in range(start, min(events, start + chunk))])
        return int(ex.pk)

    def bench_peers(self) -> list[dict[str, Any]]:
        """The same fanout and loop sleeps on other engines, for side-by-side reading."""
        width, items = self.n(400), self.n(self.loop_items)
        shapes = {"fanout": (width, 0.010, 8), "loop": (items, 0.050, 100)}
        out = []
        for peer, run in (("dask", bench.peer_dask), ("prefect", bench.peer_prefect)):
            for shape, (tasks, seconds, workers) in shapes.items():
                wall = run(tasks, seconds, workers)
                if wall is None:
                    self.stderr.write(f"{peer} is not installed: pip install -e '.[bench]'")
                    break
                out.append(bench.metric(f"{peer}-{shape}", "ratio_to_ideal", wall / (tasks * seconds / workers), "x",
                                        wall_s=round(wall, 3)))
        return out

    @cached_property
    def server_key(self) -> str:
        return secrets.token_urlsafe(50)

    def _server_env(self, *, engine_in_process: bool) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": f"sqlite:///{self.db_path}",
                "FLOWMAESTRO_ENGINE_IN_PROCESS": "true" if engine_in_process else "false",
                "FLOWMAESTRO_POLL_INTERVAL": "0.05", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                # A private server on a throw-away database: a key of its own (the server
                # refuses the development key without DEBUG, and DEBUG would slow it down),
                # and no API throttling, which the benchmark's hundreds of runs per second
                # are meant to measure past.
                "DJANGO_SECRET_KEY": settings.SECRET_KEY,
                "FLOWMAESTRO_THROTTLE_ANON": "off", "FLOWMAESTRO_THROTTLE_USER": "off",
                # No schedules or retention passes of their own in the measured servers
                # (the `prune` scenario runs retention itself, where it measures it).
                "FLOWMAESTRO_HOUSEKEEPING": "false"}

    def _daphne(self, *, engine_in_process: bool = True) -> tuple[subprocess.Popen[bytes], str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = self._server_env(engine_in_process=engine_in_process)
        root = Path(settings.BASE_DIR)
        daphne = str(Path(sys.executable).with_name("daphne"))
        proc = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "flowmaestro.asgi:application"],
                                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/accounts/login/", timeout=1)
                return proc, url
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.kill()
        raise CommandError("daphne did not start")

    def bench_runs(self) -> list[dict[str, Any]]:
        import httpx
        from rest_framework.authtoken.models import Token

        from editor.models import Workflow, WorkflowVersion
        from engine.models import Execution

        total = self.n(1000)
        token, _ = Token.objects.get_or_create(user=self.user)
        d = bench.three_node_definition()
        wf = Workflow.objects.create(owner=self.user, name="bench runs", definition=d, version=1)
        WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
        stop_engine(1)  # the server's engine runs these
        procs: list[subprocess.Popen[bytes]] = []
        urls: list[str] = []
        try:
            if self.web_workers:
                # Scale-out variant: the web processes only queue runs; one engine process
                # (woken by its 50 ms poll, as a deployment's `runengine` is) runs them.
                for _ in range(self.web_workers):
                    proc, url = self._daphne(engine_in_process=False)
                    procs.append(proc)
                    urls.append(url)
                engine_proc = subprocess.Popen(
                    [sys.executable, "manage.py", "runengine"], cwd=Path(settings.BASE_DIR),
                    env=self._server_env(engine_in_process=False),
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                procs.append(engine_proc)
                assert engine_proc.stdout is not None
                # "engine … running": its start-up is not counted as work per run.
                if not engine_proc.stdout.readline().startswith(b"engine "):
                    raise CommandError("runs: runengine did not start")
            else:
                proc, url = self._daphne()
                procs.append(proc)
                urls.append(url)
            import psutil

            servers = [psutil.Process(p.pid) for p in procs]
            server_cpu0 = [sum(p.cpu_times()[:2]) for p in servers]
            client_cpu0 = sum(psutil.Process().cpu_times()[:2])
            headers = {"Authorization": f"Token {token.key}"}
            from concurrent.futures import ThreadPoolExecutor

            t0 = time.perf_counter()
            clients = [httpx.Client(base_url=url, headers=headers, timeout=30) for url in urls]
            try:
                def post(i: int) -> int:
                    client = clients[i % len(clients)]
                    return client.post(f"/api/workflows/{wf.id}/run", json={"input": {"i": i}}).status_code

                with ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(post, range(total)))
            finally:
                for client in clients:
                    client.close()
            bad = [c for c in codes if c != 201]
            if bad:
                raise CommandError(f"runs: {len(bad)} run requests failed (e.g. HTTP {bad[0]})")
            deadline = time.monotonic() + 300
            while Execution.objects.filter(workflow=wf).exclude(status__in=["succeeded", "failed"]).exists():
                if time.monotonic() > deadline:
                    raise CommandError("runs: executions did not finish")
                time.sleep(0.02)
            wall = time.perf_counter() - t0
            # Where the time went: CPU ms per execution in each server process (API and
            # engine share one GIL in the default topology) and in this client.
            server_cpu = [sum(p.cpu_times()[:2]) - c for p, c in zip(servers, server_cpu0, strict=True)]
            client_cpu = sum(psutil.Process().cpu_times()[:2]) - client_cpu0
            failed = Execution.objects.filter(workflow=wf, status="failed").count()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
            self.engine = start_engine()
        topology = (f"{self.web_workers} daphne + runengine" if self.web_workers
                    else "1 daphne, engine in-process")
        return [bench.metric("runs", "executions_per_s", total / wall, "1/s", runs=total, failed=failed,
                             topology=topology,
                             server_cpu_ms_per_run=round(sum(server_cpu) * 1000 / total, 2),
                             cpu_ms_per_run_by_process=[round(c * 1000 / total, 2) for c in server_cpu],
                             client_cpu_ms_per_run=round(client_cpu * 1000 / total, 2))]

    def bench_scaleout(self, database_url: str, repeat: int, quick: bool) -> None:
        """The Celery executor on a local cluster, then the single process (`runs`) beside it."""
        from engine.bench_scaleout import scaleout_scenario

        drop = None
        if not database_url:
            from tests.pg import start_cluster

            pg = start_cluster()
            database_url = pg.create_database()
            name = database_url.rsplit("/", 1)[1]
            drop = lambda: pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # noqa: E731
        try:
            for m in scaleout_scenario(database_url, scale=self.scale, repeat=repeat, quick=quick,
                                       log=self.stderr.write):
                self.emit(m)
        finally:
            if drop is not None:
                drop()
        single = [self.bench_runs()[0]["value"] for _ in range(repeat if quick else repeat + 1)]
        warm, values = (None, single) if quick else (single[0], single[1:])
        self.emit({**bench.metric("scaleout", "single_executions_per_s", round(statistics.median(values), 4), "1/s",
                                  topology="1 daphne, engine in-process, SQLite", runs=self.n(1000)),
                   "runs": values, **({"warmUp": warm} if warm is not None else {})})

    def bench_bigloop(self) -> list[dict[str, Any]]:
        from engine.bench_bigloop import bigloop_scenario

        stop_engine(1)
        proc, url = self._daphne()
        try:
            return bigloop_scenario(url, proc.pid, self.user, self.n(self.bigloop_items), self.cancel_after,
                                    self.stderr.write)
        finally:
            proc.terminate()
            proc.wait(10)
            self.engine = start_engine()

    def bench_stream(self) -> list[dict[str, Any]]:
        from engine.bench_stream import stream_scenario

        stop_engine(1)
        proc, url = self._daphne()
        try:
            return stream_scenario(url, self.user, self.n(1000))
        finally:
            proc.terminate()
            proc.wait(10)
            self.engine = start_engine()
