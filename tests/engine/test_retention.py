"""Retention: finished executions past their workflow's retention are removed in small
batches, open dead letters keep theirs, old event logs are compacted to what the timeline
needs, and none of it touches running executions."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from editor.models import Workflow
from engine.models import DeadLetter, Event, Execution, NodeRun, RetentionRun
from engine.retention import prune
from tests.conftest import SIMPLE_DEFINITION
from tests.engine.runs import make_workflow, start, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def _age(execution: Execution, days: float) -> None:
    moment = timezone.now() - timedelta(days=days)
    Execution.objects.filter(pk=execution.pk).update(created_at=moment, finished_at=moment)


def _runs(owner: Any, n: int, workflow: Workflow | None = None) -> list[Execution]:
    workflow = workflow or make_workflow(owner, copy.deepcopy(SIMPLE_DEFINITION))
    return [wait_finished(start(owner, workflow, {"who": str(i)}).pk) for i in range(n)]


def test_expired_executions_go_with_their_node_runs_and_events(alice, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 30
    old, recent = _runs(alice, 2)
    _age(old, 31)
    _age(recent, 29)
    assert NodeRun.objects.filter(execution=old).exists() and Event.objects.filter(execution=old).exists()

    report = prune()
    assert report.executions_deleted == 1 and report.finished
    assert not Execution.objects.filter(pk=old.pk).exists()
    assert not NodeRun.objects.filter(execution_id=old.pk).exists()
    assert not Event.objects.filter(execution_id=old.pk).exists()
    assert Execution.objects.filter(pk=recent.pk).exists()
    logged = RetentionRun.objects.get()
    assert logged.executions_deleted == 1 and logged.events_deleted >= 3


def test_open_dead_letters_keep_their_execution_until_handled(alice, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 1
    kept, handled = _runs(alice, 2)
    for ex in (kept, handled):
        _age(ex, 5)
        Execution.objects.filter(pk=ex.pk).update(status="failed")
    DeadLetter.objects.create(execution=kept, workflow=kept.workflow, kind="run", input={})
    DeadLetter.objects.create(execution=handled, workflow=handled.workflow, kind="run", input={},
                              discarded_at=timezone.now())
    prune()
    assert Execution.objects.filter(pk=kept.pk).exists()
    assert not Execution.objects.filter(pk=handled.pk).exists()
    DeadLetter.objects.filter(execution=kept).update(replayed_at=timezone.now())
    prune()
    assert not Execution.objects.filter(pk=kept.pk).exists()


def test_per_workflow_rules_beat_the_global_ones(alice, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 30
    settings.FLOWMAESTRO_RETENTION_KEEP_LAST = 0
    forever = _runs(alice, 1)[0]
    Workflow.objects.filter(pk=forever.workflow_id).update(retention_days=0)
    _age(forever, 400)
    last_two = make_workflow(alice, copy.deepcopy(SIMPLE_DEFINITION))
    Workflow.objects.filter(pk=last_two.pk).update(retention_keep_last=2)
    executions = _runs(alice, 5, last_two)
    prune()
    assert Execution.objects.filter(pk=forever.pk).exists()
    assert sorted(Execution.objects.filter(workflow=last_two).values_list("pk", flat=True)) == [
        e.pk for e in executions[-2:]
    ]


def test_old_event_logs_are_compacted_to_what_the_timeline_needs(alice, alice_client, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 30
    settings.FLOWMAESTRO_RETENTION_COMPACT_DAYS = 7
    ex = _runs(alice, 1)[0]
    before = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()
    _age(ex, 8)
    types_before = set(Event.objects.filter(execution=ex).values_list("type", flat=True))
    assert any(t.startswith("node.") for t in types_before)
    report = prune()
    assert report.executions_compacted == 1
    types_after = set(Event.objects.filter(execution=ex).values_list("type", flat=True))
    assert types_after and all(t.startswith("execution.") or t in ("signal", "log") for t in types_after)
    after = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()
    assert [(b["nodeId"], b["status"]) for b in after["bars"]] == [(b["nodeId"], b["status"]) for b in before["bars"]]
    assert Execution.objects.get(pk=ex.pk).compacted_at is not None
    assert prune().executions_compacted == 0  # once


def test_a_big_log_is_removed_in_small_batches_beside_a_running_execution(alice, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 1
    # This pass alone: the engine started below must not prune the same log from its
    # housekeeping thread at the same time (the counts would be split between the two).
    settings.FLOWMAESTRO_RETENTION_INTERVAL = 0
    big = _runs(alice, 1)[0]
    now = timezone.now()
    Event.objects.bulk_create(
        [Event(execution=big, seq=1000 + i, type="node.started", ts=now) for i in range(20_000)], batch_size=2000
    )
    _age(big, 2)
    # A run that goes on while the pruning happens.
    slow = copy.deepcopy(SIMPLE_DEFINITION)
    slow["nodes"].insert(1, {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 0, "y": 0},
                              "config": {"duration": 300}})
    slow["edges"] = [{"id": "e0", "source": "start", "target": "wait"}, {"id": "e1", "source": "wait", "target": "greet"},
                     {"id": "e2", "source": "greet", "target": "done"}]
    wf = make_workflow(alice, slow)
    live = start(alice, wf, {"who": "live"})
    report = prune(batch=1000, budget_s=60)
    assert report.executions_deleted == 1 and report.events_deleted >= 20_000
    assert len(report.batches) >= 20  # never one statement over the whole log
    assert wait_finished(live.pk).status == "succeeded"


def test_a_pass_stops_at_its_budget_and_the_next_goes_on(alice, settings):
    settings.FLOWMAESTRO_RETENTION_DAYS = 1
    ex = _runs(alice, 1)[0]
    now = timezone.now()
    Event.objects.bulk_create([Event(execution=ex, seq=1000 + i, type="node.started", ts=now) for i in range(3000)])
    _age(ex, 2)
    first = prune(batch=100, budget_s=0.05, pause=0.02)
    assert not first.finished and Execution.objects.filter(pk=ex.pk).exists()
    while Execution.objects.filter(pk=ex.pk).exists():
        prune(batch=500, budget_s=5)
    assert not Event.objects.filter(execution_id=ex.pk).exists()


def test_retention_is_set_per_workflow_through_the_api(alice_client, bob_client, make_workflow):
    workflow = make_workflow()
    url = f"/api/workflows/{workflow.pk}/retention"
    assert alice_client.get(url).json()["days"] is None
    bad = alice_client.put(url, {"days": -1, "keepLast": None}, format="json")
    assert bad.status_code == 400
    ok = alice_client.put(url, {"days": 7, "keepLast": 100}, format="json")
    assert ok.status_code == 200 and ok.json()["days"] == 7 and ok.json()["keepLast"] == 100
    assert bob_client.put(url, {"days": 0, "keepLast": None}, format="json").status_code == 404
    assert Workflow.objects.get(pk=workflow.pk).retention_days == 7

