"""A real engine process is killed mid-run; a new one finishes the execution without
repeating finished node runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from editor.models import Workflow, WorkflowVersion
from engine import services
from engine.models import Execution, NodeRun
from tests.engine.runs import wait_for
from tests.pg import current_database_url

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def engine_process() -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": current_database_url(), "FLOWMAESTRO_STALE_AFTER": "1",
           "FLOWMAESTRO_POLL_INTERVAL": "0.1", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings"}
    return subprocess.Popen([sys.executable, "manage.py", "runengine"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def kill_9_and_restart(execution: Execution, ready: Callable[[], bool], *, timeout: float = 30) -> None:
    """Run `execution` on a `runengine` process, kill -9 it once `ready()`, and let a new
    engine process take the execution over until it ends (within `timeout` seconds)."""
    proc = engine_process()
    try:
        wait_for(ready, timeout=30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert Execution.objects.get(id=execution.id).status == "running"
        proc = engine_process()
        wait_for(lambda: Execution.objects.get(id=execution.id).status not in ("queued", "running"), timeout=timeout)
    finally:
        proc.kill()
        proc.wait(5)
    execution.refresh_from_db()


def test_kill_9_mid_run_and_restart(settings):
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    owner = User.objects.create_user("restart-owner")
    d = {
        "schemaVersion": 1, "name": "restart",
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "first", "type": "delay", "config": {"duration": 50}},
            {"id": "second", "type": "delay", "config": {"duration": 1500}},
            {"id": "out", "type": "output", "name": "out", "config": {"value": "{{second}}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "first"}, {"id": "e2", "source": "first", "target": "second"},
                  {"id": "e3", "source": "second", "target": "out"}],
    }
    wf = Workflow.objects.create(owner=owner, name="restart", definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    ex = services.execution_start(workflow=wf, user=owner, input={"v": 42})
    kill_9_and_restart(ex, lambda: NodeRun.objects.filter(execution=ex, node_id="second", status="running").exists())
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"v": 42}}
    assert NodeRun.objects.filter(execution=ex, node_id="first").count() == 1
    assert NodeRun.objects.filter(execution=ex, node_id="start").count() == 1
    second = list(NodeRun.objects.filter(execution=ex, node_id="second").order_by("attempt"))
    assert [(r.attempt, r.status) for r in second] == [(1, "cancelled"), (2, "succeeded")]
    assert "interrupted" in second[0].error["message"]
