"""One user's big values do not make the staff's admin lists crawl.

Probed on a live server: after a few runs that threw megabyte errors, the admin's Events
list took 41 s a page and Node runs 15 s, with 11,639 events and 3,572 node runs in all.
Each list row joined its execution and ordered by the execution's own ordering, so the
database sorted every row together with every big column (the event's data, the
execution's input, output, error and state), and each page then fetched the execution's
big columns again for every one of its 200 rows. The lists now read only the columns they
show and order by an index."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.models import Event, Execution, NodeRun
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)

BIG = "q" * 1_000_000  # a megabyte, as a thrown error or a big loop's results are


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def big_execution(alice) -> Execution:
    ex = run(alice, definition([START, {"id": "out", "type": "output", "name": "out", "config": {"value": 1}}],
                               [("start", "out")]))
    Execution.objects.filter(pk=ex.pk).update(error={"message": BIG}, state={"s": BIG}, input={"i": BIG},
                                              output={"o": BIG})
    seq = ex.last_seq
    Event.objects.bulk_create([Event(execution=ex, seq=seq + 1 + i, type="log", ts=ex.created_at, data={"d": BIG[:50_000]})
                               for i in range(250)])
    NodeRun.objects.filter(execution=ex).update(output={"o": BIG})
    return ex


@pytest.mark.parametrize("url", ["/admin/engine/event/", "/admin/engine/noderun/", "/admin/engine/execution/"])
def test_admin_lists_read_no_big_column(admin_client, big_execution, url):
    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        page = admin_client.get(url)
        took = time.monotonic() - started
    assert page.status_code == 200
    assert str(big_execution.pk) in page.content.decode()
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    for column in ('"engine_execution"."state"', '"engine_execution"."input"', '"engine_execution"."output"',
                   '"engine_execution"."error"', '"engine_event"."data"', '"engine_noderun"."output"',
                   '"editor_workflowversion"."definition"', '"editor_workflow"."definition"'):
        assert column not in sql, (column, url)
    assert len(page.content) < 1_000_000
    assert took < 10, took


def test_the_change_pages_still_show_the_big_values(admin_client, big_execution):
    event = Event.objects.filter(execution=big_execution).last()
    assert event is not None
    page = admin_client.get(f"/admin/engine/event/{event.pk}/change/")
    assert page.status_code == 200 and "qqqqqqqqqq" in page.content.decode()


def test_the_execution_change_page_links_big_values_instead_of_printing_them(admin_client, big_execution):
    # A 1,000,000-item loop's input is 7 MB: the page shows its size and links the whole
    # value (the API's whole-value route), as the run pages do.
    page = admin_client.get(f"/admin/engine/execution/{big_execution.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("input", "output", "error", "state"):
        assert f'href="/api/executions/{big_execution.pk}/{field}"' in html, field
    assert html.count("large value (1.0 MB)") == 4
    whole = admin_client.get(f"/api/executions/{big_execution.pk}/input")
    assert whole.status_code == 200 and len(whole.content) > 1_000_000
    missing = admin_client.get("/admin/engine/execution/999999/change/")
    assert missing.status_code in (302, 404)  # the admin's own "doesn't exist" handling
