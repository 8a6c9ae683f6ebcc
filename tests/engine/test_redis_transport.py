"""The project's kombu transport (engine.executors.redis_transport): kombu's Redis transport
that keeps one Redis client per channel for publishing, instead of building one per message.
Against a real redis-server: what it publishes is what a worker takes (the run succeeds),
and twenty publishes build one client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from django.conf import settings

from engine import services
from engine.bench.workloads import three_node_definition
from engine.executors import redis_transport
from engine.executors.celery_executor import EXECUTION_QUEUE, EXECUTION_TASK
from engine.tasks import take_execution, take_strategy
from flowmaestro.celery import app as project_app
from tests.engine.runs import make_workflow, wait_finished
from tests.engine.test_celery_take import slow_polling_engine as slow_polling_engine  # noqa: F401 - a fixture
from tests.redis import running_redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[Celery]:
    with running_redis() as url:
        app = Celery("transport-test", broker=url)
        app.conf.broker_transport = settings.CELERY_BROKER_TRANSPORT
        app.conf.task_queues = project_app.conf.task_queues
        yield app
        app.close()


def test_the_project_selects_its_transport(broker: Celery):
    assert settings.CELERY_BROKER_TRANSPORT == "engine.executors.redis_transport:Transport"
    with broker.connection_for_write() as conn:
        assert conn.transport_cls == settings.CELERY_BROKER_TRANSPORT
        assert isinstance(conn.default_channel, redis_transport.Channel)


def test_published_wake_ups_are_taken_by_a_worker_and_build_one_client(
        alice: Any, broker: Celery, slow_polling_engine: None, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    built: list[Any] = []
    create = redis_transport.Channel._create_client

    def counted(self: redis_transport.Channel, *args: Any, **kwargs: Any) -> Any:
        client = create(self, *args, **kwargs)
        built.append(client)
        return client

    monkeypatch.setattr(redis_transport.Channel, "_create_client", counted)
    wf = make_workflow(alice, three_node_definition())
    runs = [services.execution_start(workflow=wf, user=alice, input={"i": i}) for i in range(20)]
    with broker.connection_for_write() as conn, conn.Producer() as producer:
        for ex in runs:
            broker.send_task(EXECUTION_TASK, args=[ex.id], queue=EXECUTION_QUEUE, producer=producer)
    assert len(built) <= 2  # the publishing one, and the channel's own (kombu's own: one per message)

    handle = take_strategy(take_execution, project_app, None)
    with broker.connection_for_read() as conn, conn.channel() as channel:
        for _ in runs:
            message = channel.basic_get(EXECUTION_QUEUE, no_ack=True)
            assert message is not None and message.headers["task"] == EXECUTION_TASK
            handle(message, None, lambda: None, lambda: None, [])
        assert channel.basic_get(EXECUTION_QUEUE, no_ack=True) is None
    for i, ex in enumerate(runs):
        done = wait_finished(ex.id, timeout=20)  # the engine's poll would come after 60 s
        assert done.status == "succeeded", done.error
        assert done.output == {"out": {"i": i}}
