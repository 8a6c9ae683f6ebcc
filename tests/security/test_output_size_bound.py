"""A node run's rendered config and its output have a size bound (FLOWMAESTRO_OUTPUT_MAX_BYTES).

Found by the attacker pass: templates and joins multiply a value without the definition
growing. A 1.2 KB `set` node with `"{{input.s}}"` written 100 times turned a 1 MB input
into a 100 MB output, written to the database; a second such node over the first would
have asked for 10 GB of the server's memory (every user's runs share that process). And a
merge whose branches pass the same value on holds it once in memory but writes it once per
branch, so a chain of merges doubles it at every step with no template repeated at all.

Now a config whose templates render to more than the bound, or an output whose JSON would
be longer than it, fails that node run with a message naming the bound, before the big
text is made: the size is counted, each shared value walked once.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from engine.models import NodeRun
from tests.engine.runs import START, definition, loop_definition, start_run, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

BOUND = 1_000_000


@pytest.fixture
def bounded(settings: Any) -> None:
    settings.FLOWMAESTRO_OUTPUT_MAX_BYTES = BOUND


def failed_node(execution_id: int, node_id: str) -> dict[str, Any]:
    run = NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).order_by("-attempt").first()
    assert run is not None, f"{node_id} never ran"
    assert run.status == "failed", (run.status, str(run.output)[:200])
    assert run.output is None
    return dict(run.error or {})


def test_a_template_repeated_in_one_string_cannot_multiply_a_value_past_the_bound(bounded: None, alice: User):
    # 20 × 100,000 characters = 2 MB of text from a definition of a few hundred bytes.
    d = definition([START, {"id": "s", "type": "set", "config": {"values": {"x": "{{input.s}}" * 20}}}],
                   [("start", "s")])
    ex = wait_finished(start_run(alice, d, {"s": "a" * 100_000}).pk)
    assert ex.status == "failed"
    message = failed_node(ex.pk, "s")["message"]
    assert "1000000" in message and "FLOWMAESTRO_OUTPUT_MAX_BYTES" in message, message


def test_the_same_value_referenced_many_times_counts_each_time(bounded: None, alice: User):
    # Whole-value templates share the value in memory; its JSON (and an HTTP body) repeats it.
    values = {f"k{i}": "{{input.o}}" for i in range(20)}
    d = definition([START, {"id": "s", "type": "set", "config": {"values": values}}], [("start", "s")])
    ex = wait_finished(start_run(alice, d, {"o": {"list": ["b" * 1000] * 100}}).pk)
    assert ex.status == "failed"
    assert "FLOWMAESTRO_OUTPUT_MAX_BYTES" in failed_node(ex.pk, "s")["message"]


def test_a_merge_of_branches_passing_one_value_on_is_bounded_by_what_it_would_write(bounded: None, alice: User):
    # Each branch outputs the same 300 KB object (one template each): within the bound. The
    # merge holds that one object four times over: 1.2 MB of JSON, past it.
    branches = [{"id": f"b{i}", "type": "set", "config": {"values": {"v": "{{input.o}}"}}} for i in range(4)]
    d = definition([START, *branches, {"id": "m", "type": "merge", "config": {}}],
                   [*[("start", f"b{i}") for i in range(4)], *[(f"b{i}", "m") for i in range(4)]])
    ex = wait_finished(start_run(alice, d, {"o": {"text": "c" * 300_000}}).pk)
    assert ex.status == "failed"
    assert all(NodeRun.objects.get(execution_id=ex.pk, node_id=f"b{i}").status == "succeeded" for i in range(4))
    assert "FLOWMAESTRO_OUTPUT_MAX_BYTES" in failed_node(ex.pk, "m")["message"]


def test_values_within_the_bound_still_run(bounded: None, alice: User):
    values = {f"k{i}": "{{input.o}}" for i in range(3)}
    d = definition([START, {"id": "s", "type": "set", "config": {"values": {**values, "t": "{{input.s}}" * 3}}}],
                   [("start", "s")])
    ex = wait_finished(start_run(alice, d, {"o": {"text": "d" * 100_000}, "s": "e" * 100_000}).pk)
    assert ex.status == "succeeded", ex.error
    output = NodeRun.objects.get(execution_id=ex.pk, node_id="s").output
    assert output["k2"] == {"text": "d" * 100_000} and len(output["t"]) == 300_000


def test_a_loop_whose_items_pass_one_value_on_is_bounded_by_what_it_would_write(bounded: None, alice: User):
    # Every item outputs the same 30 KB string (one template): 50 items hold it once in
    # memory and 1.5 MB of JSON in the loop's output.
    d = loop_definition({}, [{"id": "v", "type": "set", "config": {"values": {"v": "{{start.big}}"}}}])
    ex = wait_finished(start_run(alice, d, {"items": list(range(50)), "big": "f" * 30_000}).pk)
    assert ex.status == "failed"
    assert NodeRun.objects.filter(execution_id=ex.pk, node_id="v", status="succeeded").count() == 50
    assert "FLOWMAESTRO_OUTPUT_MAX_BYTES" in failed_node(ex.pk, "loop")["message"]
