"""Process-level helpers: real `manage.py runengine` processes on the test database, and a
user and workflow factory. Every process a test starts is killed at its end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from editor.models import Workflow
from engine import services
from engine.models import Execution, NodeRun
from tests.engine.runs import definition as definition
from tests.engine.runs import make_workflow
from tests.engine.runs import status_of as status_of
from tests.engine.runs import wait_for as wait_for
from tests.pg import current_database_url

ROOT = Path(__file__).resolve().parents[2]
FINISHED = ("succeeded", "failed", "cancelled", "timed_out")


class Engines:
    """Starts runengine subprocesses that share the test database."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return self.logs[proc.pid].read_text(errors="replace")

    def start(self, *args: str, stale_after: float = 1.0, **env: str) -> subprocess.Popen[bytes]:
        environ = {**os.environ, "DATABASE_URL": current_database_url(), "FLOWMAESTRO_STALE_AFTER": str(stale_after),
                   "FLOWMAESTRO_POLL_INTERVAL": "0.1", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                   "FLOWMAESTRO_ENGINE_IN_PROCESS": "false", **env}
        # Output goes to a file, not a pipe nobody drains (a full pipe would block the engine).
        log = tempfile.NamedTemporaryFile(prefix="runengine-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "manage.py", "runengine", *args], cwd=ROOT, env=environ,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self.logs[proc.pid] = Path(log.name)
        # The first line says the engine runs (and names it): wait for it so that a test's
        # timing starts with an engine that claims.
        wait_for(lambda: "running" in self.output(proc) or proc.poll() is not None, 30, "runengine start")
        line = self.output(proc).splitlines()[0] if self.output(proc) else ""
        assert "running" in line, f"runengine did not start: {self.output(proc)!r}"
        proc.engine_id = line.split()[1]  # type: ignore[attr-defined]
        return proc

    def kill_9(self, proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        for log in self.logs.values():
            log.unlink(missing_ok=True)


@pytest.fixture
def engines(settings: Any) -> Iterator[Engines]:
    # The test process itself runs no engine: the subprocesses poll the database.
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    pool = Engines()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def run_workflow(owner: User, settings: Any) -> Callable[..., Execution]:
    """`run_workflow(definition, input)`: save the workflow and queue one execution (for
    engine processes or the test itself: no in-process engine wakes up to claim it)."""
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    made: dict[str, Workflow] = {}

    def run(definition: dict[str, Any], input: Any = None) -> Execution:
        key = repr(definition)
        if key not in made:
            made[key] = make_workflow(owner, definition)
        return services.execution_start(workflow=made[key], user=owner, input=input or {})

    return run


def rows(execution_id: Any, node_id: str) -> list[tuple[int, str]]:
    """(attempt, status) of each run of `node_id`, in order."""
    return list(NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).order_by("seq")
                .values_list("attempt", "status"))


def node_runs(execution_id: Any, node_id: str) -> list[NodeRun]:
    """Every run of `node_id`, in order."""
    return list(NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).order_by("seq"))


def finished(execution_id: Any, timeout: float = 40) -> Execution:
    """The execution once it has ended (any end)."""
    wait_for(lambda: status_of(execution_id) in ("succeeded", "failed", "cancelled", "timed_out"), timeout=timeout,
             what="finished")
    return Execution.objects.get(id=execution_id)
