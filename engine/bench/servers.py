"""The scenarios that go through a server (`manage.py bench NAME`): `runs` (run requests
over HTTP), `stream` (websocket clients), `prune` (retention while streaming) and `scaleout`
(a local Celery cluster). They stop this process's engine while a daphne with its own engine
serves them, and start it again after.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

from engine.bench import workloads as bench
from engine.bench.harness import Harness
from engine.runtime import start_engine, stop_engine


def runs(h: Harness) -> list[dict[str, Any]]:
    import httpx
    from rest_framework.authtoken.models import Token

    from editor.models import Workflow, WorkflowVersion
    from engine.models import Execution

    total = h.n(1000)
    token, _ = Token.objects.get_or_create(user=h.user)
    d = bench.three_node_definition()
    wf = Workflow.objects.create(owner=h.user, name="bench runs", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    stop_engine(1)  # the server's engine runs these
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        if h.web_workers:
            # Scale-out variant: the web processes only queue runs; one engine process
            # (woken by its 50 ms poll, as a deployment's `runengine` is) runs them.
            for _ in range(h.web_workers):
                proc, url = h.daphne(engine_in_process=False)
                procs.append(proc)
                urls.append(url)
            engine_proc = subprocess.Popen(
                [sys.executable, "manage.py", "runengine"], cwd=Path(settings.BASE_DIR),
                env=h.server_env(engine_in_process=False),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(engine_proc)
            assert engine_proc.stdout is not None
            # "engine … running": its start-up is not counted as work per run.
            if not engine_proc.stdout.readline().startswith(b"engine "):
                raise CommandError("runs: runengine did not start")
        else:
            proc, url = h.daphne()
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
        h.engine = start_engine()
    topology = (f"{h.web_workers} daphne + runengine" if h.web_workers
                else "1 daphne, engine in-process")
    return [bench.metric("runs", "executions_per_s", total / wall, "1/s", runs=total, failed=failed,
                         topology=topology,
                         server_cpu_ms_per_run=round(sum(server_cpu) * 1000 / total, 2),
                         cpu_ms_per_run_by_process=[round(c * 1000 / total, 2) for c in server_cpu],
                         client_cpu_ms_per_run=round(client_cpu * 1000 / total, 2))]


def scaleout(h: Harness, database_url: str, repeat: int, quick: bool) -> Iterator[dict[str, Any]]:
    """The Celery executor on a local cluster, with the single process (`runs`) measured in
    turns with the cluster's runs/s."""
    from engine.bench.scaleout import scaleout_scenario

    drop = None
    if not database_url:
        from tests.pg import start_cluster

        pg = start_cluster()
        database_url = pg.create_database()
        name = database_url.rsplit("/", 1)[1]
        drop = lambda: pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # noqa: E731
    try:
        yield from scaleout_scenario(database_url, scale=h.scale, repeat=repeat, quick=quick, log=h.log,
                                     single=lambda: float(runs(h)[0]["value"]))
    finally:
        if drop is not None:
            drop()


def stream(h: Harness) -> list[dict[str, Any]]:
    from engine.bench.stream import stream_scenario

    stop_engine(1)
    proc, url = h.daphne()
    try:
        return stream_scenario(url, h.user, h.n(1000))
    finally:
        proc.terminate()
        proc.wait(10)
        h.engine = start_engine()

def prune(h: Harness) -> list[dict[str, Any]]:
    """Retention removes an old execution of a million events (in small batches) while
    the `stream` scenario runs: its p99 latency beside the same scenario without pruning."""
    import threading

    from engine.bench.stream import stream_scenario
    from engine.retention import prune

    events = h.n(h.prune_events)
    old = _old_execution_with_events(h, events)
    stop_engine(1)
    proc, url = h.daphne()
    try:
        quiet = stream_scenario(url, h.user, h.n(1000))
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
        busy = stream_scenario(url, h.user, h.n(1000))
        still_pruning = not done.is_set()
        done.wait(600)
    finally:
        proc.terminate()
        proc.wait(10)
        h.engine = start_engine()
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

def _old_execution_with_events(h: Harness, events: int) -> int:
    """An execution finished 400 days ago with `events` events, written in bulk."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from engine.models import Event, Execution

    _, ex = h.run_definition(bench.chain_definition(3))
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
