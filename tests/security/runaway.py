"""One user's runaway loop beside another user's small run: the shape of every fairness
probe of issue 12 (sandbox workers, node threads)."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.models import User

from engine.models import Execution, NodeRun
from engine.runtime import start_engine
from tests.engine.runs import START, definition, loop_definition, make_workflow, start, wait_finished


def custom(node_id: str, code: str, **extra: Any) -> dict[str, Any]:
    """A custom transform node running `code` in the sandbox."""
    return {"id": node_id, "type": "transform", "name": node_id,
            "config": {"operation": "custom", "expression": code, **extra}}


def small_run_beside_a_runaway_loop(items: int, running: int) -> tuple[Execution, float, Execution]:
    """alice's loop of `items` endless scripts (`maxConcurrency` = items); once `running` of
    them run, bob's `1+1` transform. Answers bob's execution, how long bob waited for it
    (seconds), and alice's loop execution, both finished."""
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    runaway = make_workflow(alice, loop_definition(
        {"maxConcurrency": items}, [custom("spin", "while (true) {}", onError="continue")]))
    small = make_workflow(bob, definition([START, custom("add", "1 + 1")], [("start", "add")]))

    start_engine()
    loop_ex = start(alice, runaway, {"items": list(range(items))})
    deadline = time.monotonic() + 20
    while NodeRun.objects.filter(execution=loop_ex, node_id="spin", status="running").count() < running:
        assert time.monotonic() < deadline, "the loop never got going"
        time.sleep(0.02)
    time.sleep(0.3)
    asked = time.monotonic()
    bob_ex = wait_finished(start(bob, small).id, 30)
    bob_wait = time.monotonic() - asked
    return bob_ex, bob_wait, wait_finished(loop_ex.id, 90)
