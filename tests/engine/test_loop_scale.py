"""A 10,000-item parallel loop on the real engine and database (SPEC §4.4 scale): every
result arrives in item order, and the engine does it with a handful of threads (delays
are timers, not sleeping threads), not one per item."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User

from engine.models import NodeRun
from engine.runtime import start_engine
from tests.engine.runs import loop_definition, make_workflow, start, wait_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 10_000


def test_ten_thousand_items(db: None):
    owner = User.objects.create_user("scale-owner", password="pw")
    d = loop_definition({"maxConcurrency": 100},
                        [{"id": "work", "type": "delay", "config": {"duration": 20}},
                         {"id": "tag", "type": "output", "config": {"value": "{{parallel.index}}"}}],
                        [("work", "tag")], maxConcurrency=200)
    wf = make_workflow(owner, d)
    baseline = threading.active_count()
    engine = start_engine()
    t = time.monotonic()
    ex = start(owner, wf, {"items": list(range(ITEMS))})
    peak_threads = 0
    while not engine.wait(ex.id, 0.2):
        peak_threads = max(peak_threads, threading.active_count())
        assert time.monotonic() - t < 90, "the 10,000-item loop did not finish in 90 s"
    wall = time.monotonic() - t
    ex = wait_finished(ex.id, 10)
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"o": list(range(ITEMS))}
    assert NodeRun.objects.filter(execution=ex, node_id="work", status="succeeded").count() == ITEMS
    # Coordinator, writer, announcer and a bounded worker pool: never one thread per item.
    assert peak_threads - baseline < 50, f"{peak_threads} threads (baseline {baseline})"
    assert wall < 60, f"{wall:.1f} s"
