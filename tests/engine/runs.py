"""Helpers for tests that run workflows on the real engine and the real database."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User

from editor.models import Workflow, WorkflowVersion
from engine import services
from engine.models import Execution, NodeRun
from engine.runtime import start_engine

# Re-exported: the database tests import every helper from here.
from tests.engine.definitions import START as START
from tests.engine.definitions import definition as definition
from tests.engine.definitions import loop_definition as loop_definition
from tests.engine.definitions import peak_concurrency as _peak
from tests.engine.definitions import seconds as seconds


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `predicate` until it holds (every 20 ms), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached in {timeout} s")


def make_workflow(owner: User, d: dict[str, Any]) -> Workflow:
    wf = Workflow.objects.create(owner=owner, name=d.get("name", "t"), definition=d, version=1)
    WorkflowVersion.objects.create(workflow=wf, number=1, definition=d)
    return wf


def wait_finished(execution_id: Any, timeout: float = 20) -> Execution:
    deadline = time.monotonic() + timeout
    ex = Execution.objects.get(id=execution_id)
    while ex.status in ("queued", "running", "paused") and time.monotonic() < deadline:
        time.sleep(0.02)
        ex.refresh_from_db()
    assert ex.status not in ("queued", "running", "paused"), f"execution {ex.id} still {ex.status}"
    return ex


def start(owner: User, wf: Workflow, input: Any = None, priority: int = 0) -> Execution:
    ex = services.execution_start(workflow=wf, user=owner, input=input if input is not None else {}, priority=priority)
    start_engine().submit(ex.id)
    return ex


def start_run(owner: User, d: dict[str, Any], input: Any = None) -> Execution:
    """Save `d` as a workflow of `owner` and start it, without waiting."""
    return start(owner, make_workflow(owner, d), input)


def status_of(execution: Execution | Any) -> str:
    """The stored status of an execution (a row or an id), read afresh."""
    execution_id = execution.id if isinstance(execution, Execution) else execution
    return str(Execution.objects.values_list("status", flat=True).get(id=execution_id))


def wait_status(execution: Execution | Any, statuses: set[str], timeout: float = 15.0) -> Execution:
    """Wait until the execution (a row, refreshed in place, or an id) has one of `statuses`."""
    execution_id = execution.id if isinstance(execution, Execution) else execution
    wait_for(lambda: status_of(execution_id) in statuses, timeout, f"execution {execution_id} status in {sorted(statuses)}")
    if isinstance(execution, Execution):
        execution.refresh_from_db()
        return execution
    return Execution.objects.get(id=execution_id)


def run(owner: User, d: dict[str, Any], input: Any = None, timeout: float = 20) -> Execution:
    ex = start_run(owner, d, input)
    engine = start_engine()
    assert engine.wait(ex.id, timeout), "execution did not finish"
    return wait_finished(ex.id, 5)


def runs_of(ex: Execution, node_id: str) -> list[NodeRun]:
    return list(NodeRun.objects.filter(execution=ex, node_id=node_id).order_by("seq"))


def peak_concurrency(runs: list[NodeRun]) -> int:
    """Most node runs in flight at once, from their start and finish times."""
    return _peak([(r.started_at, r.finished_at) for r in runs])
