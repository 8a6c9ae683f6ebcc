"""The loop's item queue (SPEC §4.5): order, back-pressure, timeout, dead letters."""

from __future__ import annotations

from engine.core.item_queue import ItemQueue, item_priority
from tests.engine.definitions import loop_definition


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drain(queue: ItemQueue) -> list[int]:
    out = []
    while (index := queue.pop()) is not None:
        out.append(index)
    return out


def test_orders():
    items = [{"p": 1}, {"p": 5}, {"p": 3}, {"p": 5}]
    assert drain(ItemQueue(items)) == [0, 1, 2, 3]
    assert drain(ItemQueue(items, {"priority": "lifo"})) == [3, 2, 1, 0]
    assert drain(ItemQueue(items, {"priority": "priority", "priorityPath": "p"})) == [1, 3, 2, 0]


def test_priority_path_forms():
    item = {"meta": {"rank": 7}, "priority": 2}
    assert item_priority(item, "meta.rank") == 7
    assert item_priority(item, "{{item.meta.rank}}") == 7
    assert item_priority(item, "priority") == 2
    assert item_priority(item, "missing") == 0
    assert item_priority("text", "priority") == 0


def test_max_size_holds_the_rest_upstream_and_loses_nothing():
    queue = ItemQueue(list(range(10)), {"maxSize": 3, "priority": "lifo"})
    assert len(queue) == 3 and queue.waiting_upstream == 7
    # lifo inside the window: the newest entry first, then what entered after it.
    assert queue.pop() == 2
    assert len(queue) == 3 and queue.waiting_upstream == 6
    assert sorted([2, *drain(queue)]) == list(range(10))
    assert queue.peak_size == 3
    assert queue.exhausted


def test_timeout_expires_entries_and_counts_from_entering_the_queue():
    clock = FakeClock()
    queue = ItemQueue(list(range(5)), {"maxSize": 2, "timeout": 100}, clock=clock)
    assert abs((queue.next_deadline_s() or 0) - 0.1) < 1e-9
    clock.now += 0.05
    assert queue.pop() == 0  # item 2 enters now, with a fresh clock
    clock.now += 0.06  # item 1 waited 110 ms, item 2 60 ms
    assert [i for i, _ in queue.expire()] == [1]
    assert abs((queue.next_deadline_s() or 0) - 0.04) < 1e-9
    clock.now += 0.25
    assert [i for i, _ in queue.expire()] == [2, 3]  # item 3 entered when 1 expired
    assert drain(queue) == [4]


def test_unbounded_fifo_is_lazy_but_times_out_from_the_start():
    clock = FakeClock()
    queue = ItemQueue(list(range(100_000)), {"timeout": 50}, clock=clock)
    assert len(queue._fifo) == 0 and len(queue) == 100_000  # nothing materialised
    assert queue.pop() == 0
    clock.now += 0.051
    expired = [i for i, _ in queue.expire()]
    assert expired[0] == 1 and len(expired) == 99_999
    assert queue.exhausted


def start_order(ex, node="work"):
    return [r["iteration"] for r in sorted(ex["by_node"][node], key=lambda r: (r["started_at"], r["seq"]))]


def test_loop_queue_priority_order_and_results_in_item_order(core, graph):
    items = [{"id": i, "priority": p} for i, p in enumerate([1, 9, 5, 7])]
    d = loop_definition({"maxConcurrency": 1, "queue": {"priority": "priority", "priorityPath": "priority"}},
                   [{"id": "work", "type": "delay", "config": {"duration": 5}}])
    ex = core.run(d, {"items": items})
    assert ex["status"] == "succeeded", ex["error"]
    assert start_order(ex) == [1, 3, 2, 0]
    assert ex["output"]["o"] == items  # results stay in item order


def test_loop_queue_lifo(core, graph):
    d = loop_definition({"maxConcurrency": 1, "queue": {"priority": "lifo"}},
                   [{"id": "work", "type": "delay", "config": {"duration": 5}}])
    ex = core.run(d, {"items": [0, 1, 2, 3]})
    assert start_order(ex) == [3, 2, 1, 0]


def test_loop_queue_timeout_fails_items_that_waited_too_long(core, graph):
    d = loop_definition({"maxConcurrency": 1, "queue": {"timeout": 900, "deadLetterQueue": True},
                           "parallel": {"onPartialFailure": "collect"}},
                   [{"id": "work", "type": "delay", "config": {"duration": 600}}])
    ex = core.run(d, {"items": [0, 1, 2, 3]})
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["output"]["o"]
    # Item 0 starts at once, item 1 after 600 ms; items 2 and 3 could not start before
    # 1,200 ms and pass 900 ms in the queue. 300 ms either way: a loaded machine only makes
    # item 1 later, and it has 300 ms to spare.
    assert [r["success"] for r in out["results"]] == [True, True, False, False]
    assert "queue timeout" in out["results"][2]["error"]
    assert sorted(r["iteration"] for r in ex["by_node"]["work"]) == [0, 1]
    letters = [d for d in core.store.dead_letters if d["execution_id"] == ex["id"]]
    assert [(d["kind"], d["item_index"], d["input"]) for d in letters] == [("item", 2, 2), ("item", 3, 3)]
    assert letters[0]["trace_id"] == "trace-abc123-003"


def test_loop_queue_timeout_fires_while_every_slot_is_busy(core, graph):
    d = loop_definition({"maxConcurrency": 1, "queue": {"timeout": 100}},
                   [{"id": "work", "type": "delay", "config": {"duration": 600}}])
    ex = core.run(d, {"items": [0, 1]})
    assert ex["status"] == "failed"
    # Item 1 expired at ~100 ms, while item 0 still ran (not when the slot freed at 600 ms):
    # told by the order of the run's events, which no machine's load changes.
    order = [(e["type"], e["node_id"], (e.get("data") or {}).get("message", "")) for e in ex["events"]]
    expired_at = next(i for i, (_, node, message) in enumerate(order)
                      if node == "loop" and message.startswith("queue timeout: item 1"))
    assert expired_at < order.index(("node.succeeded", "work", ""))
    assert [r["iteration"] for r in ex["by_node"]["work"]] == [0]
    error = ex["by_node"]["loop"][0]["error"]
    assert error["message"] == "1 of 2 items failed"
    assert error["errors"][0]["index"] == 1 and "queue timeout" in error["errors"][0]["error"]


def test_max_size_is_back_pressure_not_loss(core, graph):
    # One at a time, 150 ms each: unbounded, item 5 would wait 750 ms and expire; with
    # maxSize 1 the queue's clock starts when an item enters (as the one before it starts),
    # so each waits ~150 ms of its 500: a loaded machine has 350 ms to spare.
    body = [{"id": "work", "type": "delay", "config": {"duration": 150}}]
    bounded = core.run(loop_definition({"maxConcurrency": 1, "queue": {"maxSize": 1, "timeout": 500}}, body),
                       {"items": list(range(6))})
    assert bounded["status"] == "succeeded", bounded["error"]
    assert bounded["output"]["o"] == list(range(6))
    unbounded = core.run(loop_definition({"maxConcurrency": 1, "queue": {"timeout": 500}}, body),
                         {"items": list(range(6))})
    assert unbounded["status"] == "failed"


def test_failed_items_become_dead_letters_after_their_retries(core, graph):
    body = [{"id": "check", "type": "condition", "config": {"expression": "item === 'bad'"}},
            {"id": "boom", "type": "fail", "config": {"message": "bad item", "retry": {"maxAttempts": 2, "initialDelay": 5}}},
            {"id": "fine", "type": "output", "config": {"value": "{{item}}"}}]
    d = loop_definition({"queue": {"deadLetterQueue": True}, "parallel": {"onPartialFailure": "continue"}}, body)
    d["edges"] += [{"id": "t", "source": "check", "target": "boom", "sourceHandle": "true"},
                   {"id": "f", "source": "check", "target": "fine", "sourceHandle": "false"}]
    ex = core.run(d, {"items": ["a", "bad", "c"]})
    assert ex["status"] == "succeeded", ex["error"]
    letters = [d for d in core.store.dead_letters if d["execution_id"] == ex["id"]]
    assert len(letters) == 1
    assert letters[0]["input"] == "bad" and letters[0]["item_index"] == 1 and letters[0]["attempts"] == 2
    assert letters[0]["node_id"] == "loop"
    # Without deadLetterQueue nothing is kept.
    d["nodes"][1]["config"]["queue"] = {}
    core.run(d, {"items": ["bad"]})
    assert len(core.store.dead_letters) == 1
