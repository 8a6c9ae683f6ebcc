"""How a Celery worker handles a message on the `executions` queue (engine.tasks.take_strategy),
fed the very message `send_task` publishes: the worker's coordinator claims the run at once,
not at its next poll; the queue is consumed without acknowledgements (the message is only a
wake-up), so nothing is acknowledged, unless the queue is configured with them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Message

from engine import services
from engine.bench.workloads import three_node_definition
from engine.executors.celery_executor import EXECUTION_QUEUE, EXECUTION_TASK
from engine.runtime import start_engine, stop_engine
from engine.tasks import take_execution, take_strategy
from flowmaestro.celery import app
from tests.engine.runs import make_workflow, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def published(execution_id: Any) -> Message:
    """The message `app.send_task(EXECUTION_TASK, args=[execution_id])` puts on the queue."""
    task = app.amqp.as_task_v2(str(uuid.uuid4()), EXECUTION_TASK, args=[execution_id])
    return Message(body=json.dumps(task.body), headers=task.headers, content_type="application/json",
                   content_encoding="utf-8")


@pytest.fixture
def slow_polling_engine(settings: Any) -> Iterator[None]:
    """An engine whose poll would find a queued run only after a minute, and runs recorded
    without waking it (as a web tier in queue mode records them before its message arrives)."""
    settings.FLOWMAESTRO_POLL_INTERVAL = 60
    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    stop_engine(1)
    start_engine()
    yield
    stop_engine(1)


def test_a_wake_up_has_the_run_claimed_at_once_and_acknowledges_nothing(alice, slow_polling_engine):
    wf = make_workflow(alice, three_node_definition())
    ex = services.execution_start(workflow=wf, user=alice, input={"i": 7})
    acks: list[str] = []
    handle = take_strategy(take_execution, app, None)
    handle(published(ex.id), None, lambda: acks.append("ack"), lambda: acks.append("reject"), [])
    done = wait_finished(ex.id, timeout=15)  # the poll would come after 60 s
    assert done.status == "succeeded", done.error
    assert done.output == {"out": {"i": 7}}
    assert acks == []  # consumed with no_ack: there is nothing to acknowledge


def test_on_a_queue_consumed_with_acknowledgements_each_wake_up_is_acknowledged(alice, slow_polling_engine):
    queue = app.amqp.queues[EXECUTION_QUEUE]
    assert queue.no_ack  # the project's configuration (settings.CELERY_TASK_QUEUES)
    queue.no_ack = False
    try:
        handle = take_strategy(take_execution, app, None)
    finally:
        queue.no_ack = True
    wf = make_workflow(alice, three_node_definition())
    ex = services.execution_start(workflow=wf, user=alice, input={"i": 8})
    acks: list[str] = []
    handle(published(ex.id), None, lambda: acks.append("ack"), lambda: acks.append("reject"), [])
    assert wait_finished(ex.id, timeout=15).status == "succeeded"
    assert acks == ["ack"]
