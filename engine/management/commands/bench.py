"""`manage.py bench SCENARIO [--json] [--quick]` — the benchmarks of SPEC §9.

Runs on a throw-away SQLite database (WAL) with the real engine, persistence and event
announcing on; `runs` and `stream` also start daphne on a free port.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from engine import bench
from engine.runtime import start_engine, stop_engine

SCENARIOS = ["chain", "fanout", "loop", "lattice", "runs", "stream", "baseline"]


class Command(BaseCommand):
    help = "Run the FlowMaestro benchmarks (SPEC §9): " + ", ".join(SCENARIOS) + ", or all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("scenario", nargs="?", default="all", choices=[*SCENARIOS, "all"])
        parser.add_argument("--json", action="store_true", help="one JSON object per metric per line")
        parser.add_argument("--quick", action="store_true", help="each scenario at a tenth of its size")
        parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; the median is reported")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        self.scale = 0.1 if options["quick"] else 1.0
        repeat = max(1, options["repeat"])
        scenarios = SCENARIOS if options["scenario"] == "all" else [options["scenario"]]
        self.tmp = tempfile.mkdtemp(prefix="flowmaestro-bench-")
        self._use_scratch_database()
        # The process-wide engine: services wake it, and the bench waits on it.
        settings.FLOWMAESTRO_POLL_INTERVAL = 0.05
        self.engine = start_engine()
        try:
            for scenario in scenarios:
                runs = [getattr(self, f"bench_{scenario}")() for _ in range(repeat)]
                for i, first in enumerate(runs[0]):
                    values = [r[i]["value"] for r in runs]
                    self.emit({**first, "value": round(statistics.median(values), 4),
                               **({"runs": values} if repeat > 1 else {})})
        finally:
            stop_engine(1)

    # -- plumbing --------------------------------------------------------------------------
    def _use_scratch_database(self) -> None:
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
        items = self.n(10_000)
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

    def _daphne(self) -> tuple[subprocess.Popen[bytes], str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.db_path}", "FLOWMAESTRO_ENGINE_IN_PROCESS": "true",
               "FLOWMAESTRO_POLL_INTERVAL": "0.05", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings"}
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
        proc, url = self._daphne()
        try:
            headers = {"Authorization": f"Token {token.key}"}
            from concurrent.futures import ThreadPoolExecutor

            t0 = time.perf_counter()
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                def post(_: int) -> int:
                    return client.post(f"/api/workflows/{wf.id}/run", json={"input": {"i": _}}).status_code

                with ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(post, range(total)))
            bad = [c for c in codes if c != 201]
            if bad:
                raise CommandError(f"runs: {len(bad)} run requests failed (e.g. HTTP {bad[0]})")
            deadline = time.monotonic() + 300
            while Execution.objects.filter(workflow=wf).exclude(status__in=["succeeded", "failed"]).exists():
                if time.monotonic() > deadline:
                    raise CommandError("runs: executions did not finish")
                time.sleep(0.02)
            wall = time.perf_counter() - t0
            failed = Execution.objects.filter(workflow=wf, status="failed").count()
        finally:
            proc.terminate()
            proc.wait(10)
            self.engine = start_engine()
        return [bench.metric("runs", "executions_per_s", total / wall, "1/s", runs=total, failed=failed)]

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
