"""The `bigloop` benchmark (issue 12): a 1,000,000-item loop run, watched and cancelled on
one daphne with the engine inside, as a person would from the run page.

The loop's items are a cheap inline node (`output` of `{{item}}`). While it runs, a
watcher reads what the run page reads every second — the execution's detail, its first
node-run page and the next one, the timeline — and the cancel button's signal is sent
after `cancel_after_s` (0: the loop runs to its end instead). Reported: daphne's peak
resident memory and its growth per 100,000 settled items, the largest answer (and which
route gave it), items settled, and how long the cancel took to end the execution.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import psutil
from django.test import override_settings

from engine.bench.harness import Harness
from engine.bench.workloads import metric
from engine.runtime import start_engine, stop_engine

FINAL = ("succeeded", "failed", "cancelled", "timed_out")


def bigloop_definition() -> dict[str, Any]:
    return {
        "schemaVersion": 1, "name": "bench bigloop", "settings": {"maxConcurrency": 200},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "parallel": True,
                                                      "maxConcurrency": 100}},
            {"id": "tag", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "loop"}],
    }


class _Rss:
    """daphne's resident memory every 200 ms: its peak, and its value as items settle."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def now(self) -> int:
        return int(self.process.memory_info().rss)


def bigloop(h: Harness) -> list[dict[str, Any]]:
    """Run once (minutes long): no warm-up, no median."""
    stop_engine(1)  # daphne's engine runs it
    proc, url = h.daphne()
    try:
        return bigloop_scenario(url, proc.pid, h.user, h.n(h.bigloop_items), h.cancel_after, h.log)
    finally:
        proc.terminate()
        proc.wait(10)
        h.engine = start_engine()


def bigloop_scenario(base_url: str, server_pid: int, user: Any, items: int, cancel_after_s: float,
                     log: Callable[[str], Any]) -> list[dict[str, Any]]:
    from rest_framework.authtoken.models import Token

    from editor.models import Workflow, WorkflowVersion
    from engine import services
    from engine.models import Execution, NodeRun

    definition = bigloop_definition()
    workflow = Workflow.objects.create(owner=user, name=definition["name"], definition=definition, version=1)
    WorkflowVersion.objects.create(workflow=workflow, number=1, definition=definition)
    token, _ = Token.objects.get_or_create(user=user)
    rss = _Rss(server_pid)
    # Queued here, run by daphne's engine (its poll claims it): the input is larger than a
    # request body may be (DATA_UPLOAD_MAX_MEMORY_SIZE), as an array made upstream would be.
    with override_settings(FLOWMAESTRO_ENGINE_IN_PROCESS=False):
        execution = services.execution_start(workflow=workflow, user=user, input={"items": list(range(items))})
    ex_id = execution.pk
    largest: tuple[int, str] = (0, "")
    answers = 0
    t0 = time.monotonic()
    cancel_at = t0 + cancel_after_s if cancel_after_s > 0 else None
    cancelled_at: float | None = None
    settled_at_cancel = 0
    growth: list[tuple[int, int]] = []  # (settled items, daphne RSS)

    def read(client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        nonlocal largest, answers
        response = client.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"bigloop: {method} {url} answered {response.status_code}: {response.text[:300]}")
        answers += 1
        size = len(response.content)
        if size > largest[0]:
            largest = (size, f"{method} {url.split('?')[0]}")
        return response.json() if response.content else {}

    with httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token.key}"}, timeout=120) as client:
        status = "queued"
        while status not in FINAL:
            detail = read(client, "GET", f"/api/executions/{ex_id}")
            status = detail.get("status", status)
            page = read(client, "GET", f"/api/executions/{ex_id}/node-runs?nodeId=tag")
            if page.get("next"):
                read(client, "GET", page["next"])
            read(client, "GET", f"/api/executions/{ex_id}/timeline")
            settled = NodeRun.objects.filter(execution_id=ex_id, node_id="tag").count()  # started or ended
            growth.append((settled, rss.now()))
            if cancel_at is not None and cancelled_at is None and time.monotonic() >= cancel_at:
                settled_at_cancel = settled
                read(client, "POST", f"/api/executions/{ex_id}/signal", json={"type": "cancel", "reason": "bench"})
                cancelled_at = time.monotonic()
            if time.monotonic() - t0 > 3600:
                raise RuntimeError(f"bigloop: execution {ex_id} still {status} after an hour")
            time.sleep(1.0)
        ended = time.monotonic()
        read(client, "GET", f"/api/executions/{ex_id}")
    rss.stop.set()
    rss.thread.join()
    execution = Execution.objects.get(pk=ex_id)
    if f":{os.getpid()}:" in execution.engine_id:
        raise RuntimeError(f"bigloop: execution {ex_id} ran in the bench process, not in daphne")
    expected = "cancelled" if cancel_at is not None else "succeeded"
    if execution.status != expected:
        raise RuntimeError(f"bigloop: execution {ex_id} {execution.status}, expected {expected}: {execution.error}")
    done = NodeRun.objects.filter(execution_id=ex_id, node_id="tag", status="succeeded").count()
    # Growth per 100,000 settled items, from the first reading past 10% of what settled
    # (the start-up — input parsed, first pages — is over by then) to the last before the end.
    late = [g for g in growth if g[0] >= done * 0.1]
    per_100k = ((late[-1][1] - late[0][1]) / max(1, late[-1][0] - late[0][0]) * 100_000 / 2**20
                if len(late) >= 2 and late[-1][0] > late[0][0] else 0.0)
    log(f"bigloop: {done} of {items} items settled in {ended - t0:.0f} s, {answers} answers read")
    return [
        metric("bigloop", "peak_rss_mb", rss.peak / 2**20, "MB", start_mb=round(rss.start / 2**20, 1),
               growth_mb=round((rss.peak - rss.start) / 2**20, 1), items=items, settled=done),
        metric("bigloop", "rss_growth_per_100k_items", per_100k, "MB"),
        metric("bigloop", "largest_answer_kb", largest[0] / 1024, "KB", route=largest[1], answers=answers),
        metric("bigloop", "cancel_s" if cancel_at is not None else "wall_s",
               (ended - cancelled_at) if cancelled_at is not None else ended - t0, "s",
               settled_at_cancel=settled_at_cancel, items_per_s=round(done / max(1e-9, ended - t0), 1)),
    ]
