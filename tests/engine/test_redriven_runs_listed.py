"""A redriven run on the Executions list: it says it was redriven (how often, when last), and
its duration is the time its attempts took — not the days it sat failed before the redrive.

Found: the list showed a redriven run like any other, and a run that failed on Monday and
was redriven on Tuesday read "24h 0m" as its duration."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from engine import services
from engine.models import Event, Execution, NodeRun
from engine.runtime import start_engine
from tests.engine.runs import loop_definition, run, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

DAY_MS = 24 * 3600 * 1000
FLAKY = "if (item === 3) { throw new Error('boom') } return item"


def _failed_a_day_ago(alice: Any) -> Execution:
    d = loop_definition({}, [{"id": "f", "type": "transform", "config": {"operation": "custom", "expression": FLAKY}}])
    ex = run(alice, d, {"items": [1, 2, 3]})
    assert ex.status == "failed"
    # It ran (for a moment) yesterday: move its times, its node runs' and its events' back a day.
    Execution.objects.filter(pk=ex.pk).update(created_at=ex.created_at - timedelta(days=1),
                                              started_at=ex.started_at - timedelta(days=1),
                                              finished_at=ex.finished_at - timedelta(days=1))
    for model, fields in ((NodeRun, ("queued_at", "started_at", "finished_at")), (Event, ("ts",))):
        for row in model.objects.filter(execution_id=ex.pk):
            for field in fields:
                if getattr(row, field) is not None:
                    setattr(row, field, getattr(row, field) - timedelta(days=1))
            row.save(update_fields=list(fields))
    ex.refresh_from_db()
    return ex


def _redrive(ex: Execution) -> Execution:
    services.execution_redrive(execution=Execution.objects.get(pk=ex.pk), user=ex.owner)
    start_engine().submit(ex.pk)
    return wait_finished(ex.pk)


def _row(client: Any, ex: Execution) -> dict[str, Any]:
    [row] = [r for r in client.get("/api/executions").json() if r["id"] == ex.pk]
    return row


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000


def test_a_redriven_run_says_so_and_its_duration_leaves_out_the_day_it_sat_failed(alice, alice_client):
    ex = _failed_a_day_ago(alice)
    row = _row(alice_client, ex)
    assert (row["redrives"], row["redrivenAt"], row["idleMs"]) == (0, None, 0)

    asked = timezone.now()
    _redrive(ex)
    row = _row(alice_client, ex)
    assert row["redrives"] == 1
    assert abs(_ms(row["redrivenAt"]) - asked.timestamp() * 1000) < 5000
    span = _ms(row["finishedAt"]) - _ms(row["startedAt"])
    assert span > DAY_MS  # first start (yesterday) to last end (now)
    active = span - row["idleMs"]
    assert 0 <= active < 10_000, (span, row["idleMs"])  # the two attempts took moments, not a day

    again = _redrive(ex)  # fails again at once: a second redrive, counted; almost no idle time added
    row = _row(alice_client, again)
    assert row["redrives"] == 2 and _ms(row["redrivenAt"]) >= asked.timestamp() * 1000
    assert 0 <= _ms(row["finishedAt"]) - _ms(row["startedAt"]) - row["idleMs"] < 10_000
    # The run's own answer and its timeline carry the same fields.
    detail = alice_client.get(f"/api/executions/{ex.pk}").json()
    assert (detail["redrives"], detail["idleMs"]) == (2, row["idleMs"])
    timeline = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()["execution"]
    assert (timeline["redrives"], timeline["idleMs"]) == (2, row["idleMs"])


def test_runs_redriven_before_the_columns_are_filled_in_from_their_events(alice, alice_client):
    ex = _failed_a_day_ago(alice)
    _redrive(ex)
    expected = _row(alice_client, ex)
    Execution.objects.filter(pk=ex.pk).update(redrives=0, redriven_at=None, idle_ms=0)
    migration = importlib.import_module("engine.migrations.0011_execution_redrive_columns")
    migration.fill_earlier_redrives(apps, connection.schema_editor())
    row = _row(alice_client, ex)
    assert row["redrives"] == 1
    # From the events: the first attempt's end to the redrive's queued event.
    assert abs(row["idleMs"] - expected["idleMs"]) < 2000 and row["idleMs"] > DAY_MS - 60_000
    assert abs(_ms(row["redrivenAt"]) - _ms(expected["redrivenAt"])) < 2000
