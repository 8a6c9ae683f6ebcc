"""Redrive (issue 17): a new attempt of the same execution re-runs only what failed (or the
chosen nodes and loop items) and what depends on it; every succeeded node run and loop
item is kept; the loop's and the merge's outputs are whole again; ids and trace ids stay."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from editor.models import WorkflowVersion
from engine import services
from engine.models import Execution, NodeRun
from tests.engine.runs import (
    START,
    definition,
    loop_definition,
    run,
    start_run,
    wait_finished,
    wait_for,
    wait_status,
)

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = "if (item.n % 4 === 0) { throw new Error('boom ' + item.n) } return item.n * 2"
FIXED = "return item.n * 2"


def _loop(expression: str, n: int = 10, **loop: Any) -> dict[str, Any]:
    return loop_definition({"maxConcurrency": 4, **loop},
                           [{"id": "double", "type": "transform", "config": {"operation": "custom", "expression": expression}}])


def _new_version(execution: Execution, d: dict[str, Any]) -> None:
    wf = execution.workflow
    wf.version += 1
    wf.definition = d
    wf.save()
    WorkflowVersion.objects.create(workflow=wf, number=wf.version, definition=d)


def _redrive(execution: Execution, **options: Any) -> Execution:
    services.execution_redrive(execution=execution, user=execution.owner, **options)
    from engine.runtime import start_engine

    assert start_engine().wait(execution.pk, 30)
    return wait_finished(execution.pk, 10)


def _rows(execution: Execution, node_id: str) -> list[NodeRun]:
    return list(NodeRun.objects.filter(execution=execution, node_id=node_id).order_by("seq"))


def test_redrive_after_a_fix_reruns_only_the_failed_items_and_makes_the_loop_whole(alice):
    items = [{"n": i} for i in range(10)]
    ex = run(alice, _loop(FLAKY), {"items": items})
    assert ex.status == "failed"
    before = {r.id: (r.scope, r.status, r.trace_id) for r in _rows(ex, "double")}
    failed_scopes = sorted(s for s, st, _ in before.values() if st == "failed")
    assert failed_scopes == ["loop#0", "loop#4", "loop#8"]

    _new_version(ex, _loop(FIXED))
    redriven = _redrive(ex, version="latest")
    assert redriven.pk == ex.pk and redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [i * 2 for i in range(10)]}
    after = _rows(ex, "double")
    # The seven succeeded items were kept as they were; only the three ran again.
    assert {r.id for r in after if r.id in before} == set(before)
    new = [r for r in after if r.id not in before]
    assert sorted(r.scope for r in new) == failed_scopes
    assert all(r.status == "succeeded" and r.attempt == 2 for r in new)
    traces = {s: t for s, _, t in before.values()}
    assert all(r.trace_id == traces[r.scope] for r in new)  # trace ids stay stable
    assert redriven.trace_id == ex.trace_id
    assert redriven.state["redrive"]["number"] == 1 and redriven.version.number == 2


def test_redrive_of_a_fan_out_reruns_the_failed_branch_and_the_merge_not_the_others(alice):
    def fan(expression: str) -> dict[str, Any]:
        return definition(
            [START, {"id": "a", "type": "delay", "config": {"duration": 10}},
             {"id": "b", "type": "transform", "config": {"operation": "custom", "expression": expression}},
             {"id": "m", "type": "merge"}, {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
            [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m"), ("m", "o")])

    ex = run(alice, fan("throw new Error('b is broken')"), {"k": 1})
    assert ex.status == "failed"
    _new_version(ex, fan("return 'b fixed'"))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": {"branch_a": {"k": 1}, "branch_b": "b fixed"}}
    assert len(_rows(ex, "a")) == 1 and len(_rows(ex, "start")) == 1
    assert [r.status for r in _rows(ex, "b")] == ["failed", "succeeded"]
    assert _rows(ex, "m")[-1].status == "succeeded"


def test_redrive_of_chosen_items_of_a_succeeded_loop(alice):
    ex = run(alice, _loop(FIXED), {"items": [{"n": i} for i in range(6)]})
    assert ex.status == "succeeded"
    redriven = _redrive(ex, items={"loop": [2, 5]})
    assert redriven.status == "succeeded"
    counts = {}
    for r in _rows(ex, "double"):
        counts[r.scope] = counts.get(r.scope, 0) + 1
    assert counts == {"loop#0": 1, "loop#1": 1, "loop#2": 2, "loop#3": 1, "loop#4": 1, "loop#5": 2}
    assert redriven.output == {"o": [i * 2 for i in range(6)]}


def test_redrive_of_a_big_loop_touches_only_the_failures(alice):
    flaky = "if (item.n % 500 === 7) { throw new Error('boom') } return item.n"
    ex = run(alice, _loop(flaky, maxConcurrency=32), {"items": [{"n": i} for i in range(2000)]}, timeout=120)
    assert ex.status == "failed"
    rows_before = NodeRun.objects.filter(execution=ex).count()
    _new_version(ex, _loop(FIXED.replace("* 2", ""), maxConcurrency=32))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    # Four items, the loop node and the output that waited for it ran again; nothing else.
    assert NodeRun.objects.filter(execution=ex).count() - rows_before == 6
    assert redriven.output["o"] == list(range(2000))


def test_redrive_api_refusals(alice, bob, alice_client, bob_client):
    ex = run(alice, _loop(FLAKY), {"items": [{"n": 1}, {"n": 4}]})
    url = f"/api/executions/{ex.pk}/redrive"
    assert bob_client.post(url, {}, format="json").status_code == 404
    unknown = alice_client.post(url, {"nodes": ["nope"]}, format="json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
    not_loop = alice_client.post(url, {"items": {"double": [0]}}, format="json")
    assert not_loop.status_code == 400
    answer = alice_client.post(url, {}, format="json")
    assert answer.status_code == 202 and answer.json()["id"] == ex.pk
    assert answer.json()["status"] in ("queued", "running")
    again = alice_client.post(url, {}, format="json")  # while it runs (or once it failed again)
    assert again.status_code in (202, 409)
    final = wait_finished(ex.pk, 20)
    assert final.status == "failed"  # v1 still throws for item 4: the redrive failed again
    assert final.state["redrive"]["number"] >= 1
    done = run(alice, copy.deepcopy(_loop(FIXED)), {"items": [{"n": 1}]})
    refused = alice_client.post(f"/api/executions/{done.pk}/redrive", {}, format="json")
    assert refused.status_code == 409 and "succeeded" in refused.json()["detail"]


# -- a run that succeeded with failed items (onPartialFailure "continue") --------------------------
CONTINUE = {"parallel": {"onPartialFailure": "continue"}}


def _items_ran(execution: Execution) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in _rows(execution, "double"):
        counts[r.scope] = counts.get(r.scope, 0) + 1
    return counts


def test_a_succeeded_run_with_failed_items_redrives_them_all_at_once(alice, alice_client):
    ex = run(alice, _loop(FLAKY, **CONTINUE), {"items": [{"n": i} for i in range(10)]})
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"o": [i * 2 for i in range(10) if i % 4]}  # items 0, 4 and 8 left out
    listed = next(r for r in alice_client.get("/api/executions").json() if r["id"] == ex.pk)
    assert listed["failedItems"] == 3
    assert alice_client.get(f"/api/executions/{ex.pk}").json()["failedItems"] == 3
    before = {r.id for r in NodeRun.objects.filter(execution=ex)}

    _new_version(ex, _loop(FIXED, **CONTINUE))
    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"version": "latest"}, format="json")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["failedItems"] == 0
    from engine.runtime import start_engine

    assert start_engine().wait(ex.pk, 30)
    redriven = wait_finished(ex.pk, 10)
    assert redriven.status == "succeeded", redriven.error
    # The loop's output (and the output node after it) is whole again, in item order.
    assert redriven.output == {"o": [i * 2 for i in range(10)]}
    # Only the three failed items ran again; the seven that succeeded were not repeated.
    assert _items_ran(ex) == {f"loop#{i}": 2 if i % 4 == 0 else 1 for i in range(10)}
    new = NodeRun.objects.filter(execution=ex).exclude(id__in=before)
    assert sorted((r.scope, r.node_id) for r in new) == [
        ("", "loop"), ("", "o"), ("loop#0", "double"), ("loop#4", "double"), ("loop#8", "double")]
    assert len(_rows(ex, "start")) == 1
    listed = next(r for r in alice_client.get("/api/executions").json() if r["id"] == ex.pk)
    assert listed["failedItems"] == 0
    # Nothing failed any more: a redrive without a selection has nothing to do.
    again = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")
    assert again.status_code == 409 and "nothing in it failed" in again.json()["detail"]


def test_redriving_a_partly_failed_run_on_its_own_version_fails_the_same_items_again(alice):
    ex = run(alice, _loop(FLAKY, **CONTINUE), {"items": [{"n": i} for i in range(6)]})
    assert ex.status == "succeeded" and ex.failed_items == 2  # items 0 and 4
    redriven = _redrive(ex)  # version "original": still throws for them
    assert redriven.status == "succeeded"
    assert redriven.failed_items == 2
    assert _items_ran(ex) == {"loop#0": 2, "loop#1": 1, "loop#2": 1, "loop#3": 1, "loop#4": 2, "loop#5": 1}
    assert redriven.output == {"o": [2, 4, 6, 10]}


def test_items_left_failed_by_a_chosen_redrive_are_still_counted_and_redriven_later(alice):
    ex = run(alice, _loop(FLAKY, **CONTINUE), {"items": [{"n": i} for i in range(10)]})
    _new_version(ex, _loop(FIXED, **CONTINUE))
    chosen = _redrive(ex, version="latest", items={"loop": [4]})
    assert chosen.status == "succeeded"
    assert chosen.failed_items == 2  # items 0 and 8 kept their failure
    assert chosen.output == {"o": [i * 2 for i in range(10) if i not in (0, 8)]}
    rest = _redrive(chosen, version="latest")
    assert rest.status == "succeeded" and rest.failed_items == 0
    assert rest.output == {"o": [i * 2 for i in range(10)]}
    assert _items_ran(ex) == {f"loop#{i}": 2 if i in (0, 4, 8) else 1 for i in range(10)}


def test_the_executions_stream_tells_the_failed_items_of_a_run_as_it_ends(alice):
    """The Executions list hears a run end on `ws/executions/`: the summary it gets says how
    many items failed, so the row offers "Redrive failed (N items)" without a reload."""
    from engine.live.announce import execution_summary

    ex = run(alice, _loop(FLAKY, **CONTINUE), {"items": [{"n": i} for i in range(6)]})
    assert ex.status == "succeeded"
    summary = execution_summary(ex.pk)
    assert summary is not None and summary["status"] == "succeeded" and summary["failedItems"] == 2
    fine = run(alice, _loop(FIXED, **CONTINUE), {"items": [{"n": 1}]})
    assert (execution_summary(fine.pk) or {})["failedItems"] == 0


def _branchy(expression: str) -> dict[str, Any]:
    """start → a and b → merge (onPartialFailure "continue") → o: a broken `b` is left out."""
    return definition(
        [START, {"id": "a", "type": "delay", "config": {"duration": 10}},
         {"id": "b", "type": "transform", "name": "B", "config": {"operation": "custom", "expression": expression}},
         {"id": "m", "type": "merge", "config": CONTINUE}, {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
        [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m"), ("m", "o")])


def test_a_succeeded_run_whose_only_failure_is_a_branch_offers_and_redrives_it(alice, alice_client):
    """The list row, the detail and the stream all say what `redrive {}` re-runs: the one
    failed top-level branch of a run that succeeded without it (before, only the timeline
    counted it, from its bars, and the list row offered nothing)."""
    from engine.live.announce import execution_summary

    ex = run(alice, _branchy("throw new Error('b is broken')"), {"k": 1})
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"o": {"branch_a": {"k": 1}}}
    assert (ex.failed_nodes, ex.failed_items) == (1, 0)
    listed = next(r for r in alice_client.get("/api/executions").json() if r["id"] == ex.pk)
    assert (listed["failedNodes"], listed["failedItems"]) == (1, 0)
    detail = alice_client.get(f"/api/executions/{ex.pk}").json()
    assert (detail["failedNodes"], detail["failedItems"]) == (1, 0)
    timeline = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()
    assert timeline["execution"]["failedNodes"] == 1
    assert (execution_summary(ex.pk) or {})["failedNodes"] == 1
    before = {r.id for r in NodeRun.objects.filter(execution=ex)}

    _new_version(ex, _branchy("return 'b fixed'"))
    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"version": "latest"}, format="json")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["failedNodes"] == 0
    from engine.runtime import start_engine

    assert start_engine().wait(ex.pk, 30)
    redriven = wait_finished(ex.pk, 10)
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": {"branch_a": {"k": 1}, "branch_b": "b fixed"}}
    new = NodeRun.objects.filter(execution=ex).exclude(id__in=before)
    assert sorted(r.node_id for r in new) == ["b", "m", "o"]  # not `a`, not `start`
    assert (redriven.failed_nodes, redriven.failed_items) == (0, 0)
    listed = next(r for r in alice_client.get("/api/executions").json() if r["id"] == ex.pk)
    assert listed["failedNodes"] == 0
    again = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")
    assert again.status_code == 409 and "nothing in it failed" in again.json()["detail"]


def test_a_failed_run_redriven_to_success_has_its_count_reset(alice, alice_client):
    def fan(expression: str) -> dict[str, Any]:
        d = _branchy(expression)
        d["nodes"][3]["config"] = {}  # the default policy: a failed branch fails the run
        return d

    ex = run(alice, fan("throw new Error('b is broken')"), {"k": 1})
    assert ex.status == "failed"
    assert (ex.failed_nodes, ex.failed_items) == (2, 0)  # `b` and the merge its failure failed
    _new_version(ex, fan("return 'b fixed'"))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert (redriven.failed_nodes, redriven.failed_items) == (0, 0)
    listed = next(r for r in alice_client.get("/api/executions").json() if r["id"] == ex.pk)
    assert (listed["failedNodes"], listed["failedItems"]) == (0, 0)


def test_a_race_lost_in_a_run_that_succeeded_is_neither_counted_nor_redriven(alice):
    d = definition(
        [START, {"id": "slow", "type": "delay", "config": {"duration": 3000}},
         {"id": "fast", "type": "delay", "config": {"duration": 10}},
         {"id": "race", "type": "merge", "config": {"mode": "first_success", "output": "first"}},
         {"id": "b", "type": "fail", "config": {"message": "b is broken"}},
         {"id": "m", "type": "merge", "config": CONTINUE}, {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
        [("start", "slow"), ("start", "fast"), ("slow", "race"), ("fast", "race"), ("start", "b"),
         ("race", "m"), ("b", "m"), ("m", "o")])
    ex = run(alice, d, {"k": 1})
    assert ex.status == "succeeded", ex.error
    assert _rows(ex, "slow")[-1].status == "cancelled"
    assert (ex.failed_nodes, ex.failed_items) == (1, 0)  # `b`; the race's loser is no failure
    redriven = _redrive(ex)
    assert redriven.status == "succeeded"
    # What re-ran is what was counted (and what follows it): the loser stayed as it was.
    assert len(_rows(ex, "slow")) == 1 and len(_rows(ex, "fast")) == 1 and len(_rows(ex, "race")) == 1
    assert len(_rows(ex, "b")) == 2 and len(_rows(ex, "m")) == 2
    assert (redriven.failed_nodes, redriven.failed_items) == (1, 0)  # still broken on its own version


def _race_then(after: dict[str, Any]) -> dict[str, Any]:
    return definition(
        [START, {"id": "slow", "type": "delay", "config": {"duration": 3000}},
         {"id": "fast", "type": "delay", "config": {"duration": 10}},
         {"id": "race", "type": "merge", "config": {"mode": "first_success", "output": "first"}},
         after, {"id": "o", "type": "output", "config": {"value": "{{b}}"}}],
        [("start", "slow"), ("start", "fast"), ("slow", "race"), ("fast", "race"), ("race", "b"), ("b", "o")])


def test_a_race_won_before_the_run_failed_is_neither_counted_nor_run_again_by_a_redrive(alice):
    # The run fails after the race (at `b`): the race's loser was still cut by design, so
    # "Redrive failed" counts `b` alone and a redrive re-runs `b`, not the race again.
    broken = {"id": "b", "type": "fail", "config": {"message": "b is broken"}}
    ex = run(alice, _race_then(broken), {"k": 1})
    assert ex.status == "failed"
    assert _rows(ex, "slow")[-1].status == "cancelled"
    assert (ex.failed_nodes, ex.failed_items) == (1, 0)  # `b`; not the race's loser
    _new_version(ex, _race_then({"id": "b", "type": "transform",
                                 "config": {"operation": "custom", "expression": "return 'fixed'"}}))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": "fixed"}
    # The race stayed as it was: one run each of its branches and of its join.
    assert len(_rows(ex, "slow")) == 1 and len(_rows(ex, "fast")) == 1 and len(_rows(ex, "race")) == 1
    assert len(_rows(ex, "b")) == 2


def test_a_run_cancelled_mid_race_counts_the_cancelled_branches(alice):
    # Cancelled by its user, nothing after the race ran: the cut branches are what a
    # redrive runs again.
    d = definition(
        [START, {"id": "slow", "type": "delay", "config": {"duration": 3000}},
         {"id": "slower", "type": "delay", "config": {"duration": 4000}},
         {"id": "race", "type": "merge", "config": {"mode": "first_success", "output": "first"}},
         {"id": "o", "type": "output", "config": {"value": "{{race}}"}}],
        [("start", "slow"), ("start", "slower"), ("slow", "race"), ("slower", "race"), ("race", "o")])
    ex = start_run(alice, d, {})
    wait_for(lambda: NodeRun.objects.filter(execution_id=ex.pk, node_id__in=["slow", "slower"],
                                            status="running").count() == 2, what="both branches running")
    services.execution_signal(execution=Execution.objects.get(pk=ex.pk), user=alice, type="cancel")
    ex = wait_status(ex, {"cancelled"})
    ex = wait_finished(ex.pk)
    assert (ex.failed_nodes, ex.failed_items) == (2, 0)


def test_runs_that_ended_before_the_counts_had_columns_are_counted_by_the_migration(alice, alice_client):
    import importlib

    from django.db import connection

    migration = importlib.import_module("engine.migrations.0007_execution_failed_counts")
    items = run(alice, _loop(FLAKY, **CONTINUE), {"items": [{"n": i} for i in range(6)]})
    branch = run(alice, _branchy("throw new Error('b is broken')"), {"k": 1})
    fine = run(alice, _branchy("return 1"), {"k": 1})
    # As they were stored before: the items' count in the state, no columns.
    Execution.objects.filter(pk=items.pk).update(state={**items.state, "failedItems": 2})
    Execution.objects.update(failed_nodes=0, failed_items=0)

    from django.apps import apps

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    migration.count_earlier_runs(apps, editor)
    counts = {r["id"]: (r["failedNodes"], r["failedItems"]) for r in alice_client.get("/api/executions").json()}
    assert counts[items.pk] == (0, 2)
    assert counts[branch.pk] == (1, 0)
    assert counts[fine.pk] == (0, 0)


# -- cancelOnFailure: what one failure cut -----------------------------------------------------------
def _cut_loop(expression: str) -> dict[str, Any]:
    """Two items run at once; the first to fail cuts the one running and the one waiting."""
    return loop_definition({"maxConcurrency": 2, "parallel": {"cancelOnFailure": True}},
                           [{"id": "work", "type": "delay", "config": {"duration": "{{item.ms}}"}},
                            {"id": "check", "type": "transform", "config": {"operation": "custom", "expression": expression}}],
                           [("work", "check")])


def test_items_cut_by_cancel_on_failure_are_cancelled_not_failed_and_a_redrive_runs_them(alice, alice_client):
    broken = "if (item.fail) throw new Error('bad item'); return item.ms"
    ex = run(alice, _cut_loop(broken), {"items": [{"ms": 30, "fail": True}, {"ms": 400}, {"ms": 400}]})
    assert ex.status == "failed"
    loop = _rows(ex, "loop")[-1]
    # The error counts the cut items apart, as a merge's counts its cut branches.
    assert loop.error["message"] == "1 of 3 items failed; 2 cancelled"
    assert [e["index"] for e in loop.error["errors"]] == [0]
    assert {r.iteration: r.status for r in _rows(ex, "work")} == {0: "succeeded", 1: "cancelled"}  # 2 never started
    # Every item that did not succeed is what "Redrive failed (3 items)" re-runs.
    assert ex.failed_items == 3
    assert alice_client.get(f"/api/executions/{ex.pk}").json()["failedItems"] == 3
    _new_version(ex, _cut_loop("return item.ms"))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [30, 400, 400]}
    assert redriven.failed_items == 0


def test_a_branch_cut_by_cancel_on_failure_in_a_run_that_succeeded_is_no_failure(alice):
    d = definition(
        [START, {"id": "slow", "type": "delay", "config": {"duration": 3000}},
         {"id": "b", "type": "fail", "config": {"message": "b is broken"}},
         {"id": "m", "type": "merge", "config": {"parallel": {"onPartialFailure": "continue", "cancelOnFailure": True}}},
         {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
        [("start", "slow"), ("start", "b"), ("slow", "m"), ("b", "m"), ("m", "o")])
    ex = run(alice, d, {"k": 1})
    assert ex.status == "succeeded", ex.error
    assert _rows(ex, "slow")[-1].status == "cancelled"
    assert (ex.failed_nodes, ex.failed_items) == (1, 0)  # `b`; the cut branch is no failure
    redriven = _redrive(ex)
    assert len(_rows(ex, "slow")) == 1 and len(_rows(ex, "b")) == 2
    assert redriven.status == "succeeded"


# -- a loop that re-runs because what feeds it re-ran: every item runs again -------------------
def _fed_loop(make: str) -> dict[str, Any]:
    """start → make (a transform whose result is the loop's array) → loop → output o."""
    d = loop_definition({"maxConcurrency": 4}, [{"id": "double", "type": "transform",
                                                 "config": {"operation": "custom", "expression": FIXED}}],
                        array="{{make}}")
    d["nodes"].insert(1, {"id": "make", "type": "transform", "config": {"operation": "custom", "expression": make}})
    d["edges"] = [{"id": "e0", "source": "start", "target": "make"},
                  {"id": "e1", "source": "make", "target": "loop"}, {"id": "e2", "source": "loop", "target": "o"}]
    return d


def test_redriving_the_node_that_makes_a_loops_array_runs_every_item_of_the_new_array(alice):
    ex = run(alice, _fed_loop("return [0, 1, 2, 3].map(n => ({n}))"), {})
    assert ex.status == "succeeded" and ex.output == {"o": [0, 2, 4, 6]}
    _new_version(ex, _fed_loop("return [100, 101, 102].map(n => ({n}))"))
    redriven = _redrive(ex, version="latest", nodes=["make"])
    assert redriven.status == "succeeded", redriven.error
    # The loop's results are those of the new array's items, not the old items' kept results
    # under the same indexes (it answered [0, 2, 4, 6] for the items 100, 101, 102).
    assert redriven.output == {"o": [200, 202, 204]}
    assert _items_ran(ex) == {"loop#0": 2, "loop#1": 2, "loop#2": 2, "loop#3": 1}


def test_redriving_a_loop_node_by_id_runs_every_item_again(alice):
    ex = run(alice, _loop(FLAKY), {"items": [{"n": i} for i in range(6)]})
    assert ex.status == "failed"  # items 0 and 4
    _new_version(ex, _loop(FIXED))
    # The loop chosen as a node (the timeline's "Redrive" of the loop's bar): it ran nothing
    # and failed again with the items' old errors.
    redriven = _redrive(ex, version="latest", nodes=["loop"])
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [i * 2 for i in range(6)]}
    assert _items_ran(ex) == {f"loop#{i}": 2 for i in range(6)}


def test_redriving_the_start_of_a_failed_loop_runs_its_failed_items_too(alice):
    ex = run(alice, _loop(FLAKY), {"items": [{"n": i} for i in range(6)]})
    _new_version(ex, _loop(FIXED))
    redriven = _redrive(ex, version="latest", nodes=["start"])
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [i * 2 for i in range(6)]}


# -- dead letters of what a redrive runs again --------------------------------------------------
def _letters(execution: Execution, client: Any) -> list[dict[str, Any]]:
    return sorted((d for d in client.get("/api/dead-letters").json() if d["execution"] == execution.pk),
                  key=lambda d: d["id"])


def test_a_redrive_settles_the_dead_letters_of_the_items_it_runs_again(alice, alice_client):
    dlq = {"queue": {"deadLetterQueue": True}}
    ex = run(alice, _loop(FLAKY, **dlq), {"items": [{"n": i} for i in range(10)]})
    assert sorted((d["itemIndex"], d["state"]) for d in _letters(ex, alice_client)) == [
        (0, "open"), (4, "open"), (8, "open")]
    _new_version(ex, _loop(FIXED, **dlq))
    chosen = _redrive(ex, version="latest", items={"loop": [4]})
    # Item 4 ran again (and succeeded) in this execution: its letter says so, and offers no
    # second replay of it; items 0 and 8, not re-run, keep theirs open.
    states = {d["itemIndex"]: (d["state"], d["replayedExecution"]) for d in _letters(ex, alice_client)}
    assert states == {0: ("open", None), 4: ("replayed", ex.pk), 8: ("open", None)}
    assert chosen.failed_items == 2
    _redrive(chosen, version="latest")
    states = {d["itemIndex"]: (d["state"], d["replayedExecution"]) for d in _letters(ex, alice_client)}
    assert states == {0: ("replayed", ex.pk), 4: ("replayed", ex.pk), 8: ("replayed", ex.pk)}
    letter = _letters(ex, alice_client)[0]["id"]
    again = alice_client.post(f"/api/dead-letters/{letter}/replay", {}, format="json")
    assert again.status_code == 409


def test_a_run_redriven_to_fail_again_has_one_open_dead_letter_for_its_new_failure(alice, alice_client):
    d = _loop(FLAKY)
    d["settings"]["queue"] = {"deadLetterQueue": True}  # the workflow's: failed runs are kept
    ex = run(alice, d, {"items": [{"n": 1}, {"n": 4}]})
    assert ex.status == "failed"
    [first] = [d for d in _letters(ex, alice_client) if d["kind"] == "run"]
    assert first["state"] == "open"
    _redrive(ex)  # the original version: item 4 throws again
    runs = [(d["state"], d["replayedExecution"]) for d in _letters(ex, alice_client) if d["kind"] == "run"]
    # The first failure was redriven; the new failure is the one open letter (there was none:
    # the run's first letter stood for both, and replaying it ran the run a second time).
    assert runs == [("replayed", ex.pk), ("open", None)]


def test_the_timeline_says_which_version_each_redrive_ran(alice, alice_client):
    ex = run(alice, _loop(FLAKY), {"items": [{"n": i} for i in range(6)]})
    again = _redrive(ex)  # on its own version: fails again
    _new_version(ex, _loop(FIXED))
    _redrive(again, version="latest")
    redrives = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()["redrives"]
    # The execution now says version 2; the node runs kept from before ran version 1.
    assert [(r["number"], r["fromVersion"], r["version"], r["by"]) for r in redrives] == [
        (1, 1, 1, "alice"), (2, 1, 2, "alice")]


def test_a_refused_redrive_names_the_nodes_it_is_about(alice, alice_client):
    ex = run(alice, _loop(FLAKY), {"items": [{"n": 1}, {"n": 4}]})
    url = f"/api/executions/{ex.pk}/redrive"
    unknown = alice_client.post(url, {"nodes": ["nope"], "items": {"double": [0]}}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"message": "version 1 has no node 'nope'", "nodeId": "nope"},
        {"message": "'double' is not a loop: it has no items", "nodeId": "double"}]
    missing = alice_client.post(url, {"items": {"loop": [1, 7, 9]}}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"] == [{"message": "no item 7, 9", "nodeId": "loop"}]
    # An empty list of items chose nothing: it re-ran the loop with every item kept, which
    # failed again at once with the old errors.
    empty = alice_client.post(url, {"items": {"loop": []}}, format="json")
    assert empty.status_code == 400, empty.json()
    assert empty.json()["errors"] == [{"message": "no item indexes", "nodeId": "loop"}]
    assert "empty list" in empty.json()["detail"]
    assert Execution.objects.get(pk=ex.pk).status == "failed"  # nothing was started


# -- nested loops: a failed inner item does not re-run its succeeded siblings -------------------
def _nested(expression: str, before_inner: bool = False) -> dict[str, Any]:
    """start → outer loop over input.rows → [prep →] inner loop over the row → cell transform."""
    nodes: list[dict[str, Any]] = [
        START, {"id": "outer", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "row"}},
        {"id": "inner", "type": "loop", "parentId": "outer",
         "config": {"arrayPath": "{{prep}}" if before_inner else "{{row}}", "itemVariable": "cell"}},
        {"id": "cell", "type": "transform", "parentId": "inner", "config": {"operation": "custom", "expression": expression}},
        {"id": "o", "type": "output", "config": {"value": "{{outer}}"}}]
    edges: list[Any] = [("start", "outer"), ("outer", "o")]
    if before_inner:
        nodes.insert(2, {"id": "prep", "type": "transform", "parentId": "outer",
                         "config": {"operation": "custom", "expression": "return row;"}})
        edges.append(("prep", "inner"))
    return definition(nodes, edges)


def _cells_ran(execution: Execution) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in _rows(execution, "cell"):
        counts[r.scope] = counts.get(r.scope, 0) + 1
    return counts


NESTED_FLAKY = "if (cell === 6) { throw new Error('bad cell') } return cell * 10"
NESTED_FIXED = "return cell * 10"
ROWS = {"rows": [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]}


def test_redriving_a_failed_inner_item_of_a_nested_loop_runs_only_that_item(alice):
    ex = run(alice, _nested(NESTED_FLAKY), ROWS)
    assert ex.status == "failed"
    _new_version(ex, _nested(NESTED_FIXED))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]}
    # Cell 6 (outer item 1, inner item 2) alone ran again: cells 4, 5 and 7 had succeeded.
    ran = _cells_ran(ex)
    assert ran.pop("outer#1/inner#2") == 2
    assert set(ran.values()) == {1}


def test_a_nested_loop_after_a_node_that_re_runs_in_its_item_runs_every_inner_item(alice):
    ex = run(alice, _nested(NESTED_FLAKY, before_inner=True), ROWS)
    assert ex.status == "failed"
    _new_version(ex, _nested(NESTED_FIXED, before_inner=True))
    redriven = _redrive(ex, version="latest")
    assert redriven.status == "succeeded", redriven.error
    assert redriven.output == {"o": [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]}
    # The failed outer item runs again whole from its first node (prep), whose output is the
    # inner loop's array: every inner item of it runs again; the other outer items do not.
    ran = _cells_ran(ex)
    assert {s: n for s, n in ran.items() if n == 2} == {f"outer#1/inner#{i}": 2 for i in range(4)}
