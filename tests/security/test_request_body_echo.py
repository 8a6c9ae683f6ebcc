"""A refused request body is answered in a few hundred bytes, whatever it held.

Probed on a live daphne: a 2.3 MB body of 150,000 made-up keys (`{"type": "pause",
"typ0": 1, …}`) to a run or a signal held an HTTP thread for 9.5 s of CPU (a "did you
mean" guess per key, on the core the engine's coordinator shares) and was answered with
9 MB naming every key. A redrive's `items` took loop ids of any length and any number, and
its 400 listed every unknown one; node ids are at most 100 characters everywhere else."""

from __future__ import annotations

import json
import time

import pytest

from engine.models import Execution
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = 3000  # bytes: room for the first keys' names and the count of the rest


def _post(client, url: str, body: dict) -> tuple[int, bytes, float]:
    raw = json.dumps(body)
    t0 = time.monotonic()
    answer = client.generic("POST", url, raw, content_type="application/json")
    return answer.status_code, answer.content, time.monotonic() - t0


@pytest.fixture
def failed(alice):
    return run(alice, definition([START, {"id": "boom", "type": "fail", "config": {"message": "down"}}],
                                 [("start", "boom")]))


def test_a_body_of_many_unknown_keys_is_refused_quickly_and_briefly(alice_client, failed):
    many = {"type": "pause", **{f"typ{i}": 1 for i in range(150_000)}}
    for url in (f"/api/executions/{failed.pk}/signal", f"/api/workflows/{failed.workflow_id}/run"):
        code, content, took = _post(alice_client, url, many)
        assert code == 400, content[:300]
        assert len(content) < SMALL, (url, len(content))
        errors = json.loads(content)["errors"]
        assert errors["typ0"][0].startswith("unknown key")
        assert any("more unknown keys" in message for messages in errors.values() for message in messages)
        assert took < 4, (url, took)  # 9.5 s on the live server before
    assert Execution.objects.count() == 1


def test_a_megabyte_long_unknown_key_is_named_by_its_start(alice_client, failed):
    code, content, _ = _post(alice_client, f"/api/executions/{failed.pk}/retry", {"k" * 1_000_000: 1})
    assert code == 400
    assert len(content) < SMALL, len(content)
    assert "(1000000 characters)" in content.decode()


def test_redrive_items_take_only_node_ids_and_the_answer_stays_small(alice_client, failed):
    url = f"/api/executions/{failed.pk}/redrive"
    code, content, _ = _post(alice_client, url, {"items": {"x" * 10_000: [0]}})
    assert code == 400 and len(content) < SMALL, len(content)
    assert "at most 100 characters" in content.decode()

    code, content, _ = _post(alice_client, url, {"items": {f"loop{i}": [0] for i in range(1001)}})
    assert code == 400 and len(content) < SMALL, len(content)
    assert "at most 1000 loops" in content.decode()

    code, content, _ = _post(alice_client, url, {"nodes": [f"n{i:0>99}" for i in range(1000)]})
    assert code == 400 and len(content) < SMALL, len(content)
    assert "and 995 more" in json.loads(content)["detail"]

    code, content, _ = _post(alice_client, url, {"items": {f"loop{i}": [0] for i in range(1000)}})
    assert code == 400 and "and 995 more" in json.loads(content)["detail"]
    assert Execution.objects.get(pk=failed.pk).status == "failed"  # nothing was redriven


def test_a_megabyte_long_pin_data_key_is_refused_by_its_length(alice_client):
    # Imported pins (`pinData`) are keyed by node id, at most 100 characters like every node
    # id: a 1 MB key was named whole in the detail and its errors, a 4 MB answer.
    d = definition([START, {"id": "t", "type": "transform", "config": {"expression": "1"}}], [("start", "t")])
    status, content, _ = _post(alice_client, "/api/workflows",
                               {"name": "P", "definition": d, "pinData": {"x" * 1_000_000: 1}})
    assert status == 400
    assert len(content) < SMALL, len(content)
    assert "at most 100 characters" in json.loads(content)["errors"]["pinData"][0]
