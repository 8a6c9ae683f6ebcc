"""Strict, helpful validation (SPEC §3, issue 15 and the ranges of issue 12): unknown keys
anywhere are errors that name the key and the nearest known one, `settings` is validated,
numbers stay in their documented range, and a policy where it cannot apply is an error."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.graph import DefinitionError, Graph, validate_definition
from engine.nodes.base import MAX_DURATION_MS
from tests.engine.definitions import START, definition


def messages(d: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    report = validate_definition(d)
    return [(e.get("nodeId"), e.get("edgeId"), e["message"]) for e in report.errors]


def loop(config: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return definition([START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input}}", **config}},
                       {"id": "w", "type": "delay", "parentId": "loop", "config": {"duration": 1}}],
                      [("start", "loop")], **settings)


def test_a_misspelt_loop_key_names_the_key_and_suggests_the_right_one():
    assert messages(loop({"maxConcurency": 3})) == [
        ("loop", None, "config: unknown key 'maxConcurency' — did you mean 'maxConcurrency'?")]


def test_unknown_keys_in_a_policy_a_retry_and_a_branch_are_errors():
    d = definition(
        [START, {"id": "a", "type": "delay", "config": {"duration": 1, "retry": {"maxAttemps": 2}}},
         {"id": "b", "type": "delay", "config": {"duration": 1}},
         {"id": "m", "type": "merge", "config": {"parallel": {"onPartialFailur": "continue"}}}],
        [{"source": "start", "target": "a", "branch": {"timout": 100}}, ("start", "b"), ("a", "m"), ("b", "m")])
    found = messages(d)
    assert ("a", None, "config.retry: unknown key 'maxAttemps' — did you mean 'maxAttempts'?") in found
    assert ("m", None, "config.parallel: unknown key 'onPartialFailur' — did you mean 'onPartialFailure'?") in found
    assert (None, "e0", "branch: unknown key 'timout' — did you mean 'timeout'?") in found


def test_a_queue_block_at_the_top_level_is_pointed_to_settings():
    d = definition([START], [])
    d["queue"] = {"maxSize": 1000}
    assert messages(d) == [(None, None, "unknown key 'queue' in the definition — did you mean 'settings.queue'?")]


def test_settings_are_validated_keys_enums_and_signal_handlers():
    d = definition([START], [], maxConcurency=4, queue={"priority": "fifoo"},
                   signalHandlers={"pause": {"action": "pauze"},
                                   "priority_change": {"action": "custom", "handler": "update_priority_nod"}})
    found = [m for _, _, m in messages(d)]
    assert "settings: unknown key 'maxConcurency' — did you mean 'maxConcurrency'?" in found
    assert any(m.startswith("settings.queue.priority: 'fifoo' is not one of") and "did you mean 'fifo'" in m
               for m in found)
    assert any(m.startswith("settings.signalHandlers.pause.action: 'pauze'") and "did you mean 'pause'" in m
               for m in found)
    assert "settings.signalHandlers.priority_change.handler: 'update_priority_nod' is not a node" in found


def test_a_custom_handler_naming_a_node_is_valid_and_the_lonely_node_is_no_warning():
    d = definition([START, {"id": "update_priority_node", "type": "log", "config": {"message": "p"}}], [],
                   signalHandlers={"priority_change": {"action": "custom", "handler": "update_priority_node"}})
    report = validate_definition(d)
    assert report.errors == [] and report.warnings == []


def test_handler_options_that_an_action_does_not_read_are_errors():
    d = definition([START], [], signalHandlers={"pause": {"action": "pause", "rollback": True}})
    assert messages(d) == [(None, None, "settings.signalHandlers.pause.rollback: applies only to action 'cancel', "
                                        "not 'pause'")]


@pytest.mark.parametrize(("settings", "expected"), [
    ({"maxConcurrency": "abc"}, "settings.maxConcurrency: 'abc' is not of type 'integer'"),
    ({"maxConcurrency": -1}, "settings.maxConcurrency: -1 is out of range: allowed 1 to 10000"),
    ({"queue": {"maxSize": -1}}, "settings.queue.maxSize: -1 is out of range: allowed 1 to 1000000"),
    ({"timeout": 10**15}, f"settings.timeout: {10**15} is out of range: allowed 1 to {MAX_DURATION_MS}"),
])
def test_settings_numbers_outside_their_range(settings, expected):
    assert messages(definition([START], [], **settings)) == [(None, None, expected)]


@pytest.mark.parametrize(("config", "expected"), [
    ({"rateLimit": 1e-300}, "config.rateLimit: 1e-300 is out of range: allowed 0.001 to 100000"),
    ({"maxConcurrency": -1}, "config.maxConcurrency: -1 is out of range: allowed 1 to 10000"),
    ({"queue": {"maxSize": -1}}, "config.queue.maxSize: -1 is out of range: allowed 1 to 1000000"),
    ({"delayBetweenBatches": 10**15}, f"config.delayBetweenBatches: {10**15} is out of range: allowed 0 to {MAX_DURATION_MS}"),
    ({"parallel": {"minSuccessRate": 2}}, "config.parallel.minSuccessRate: 2 is out of range: allowed 0 to 1"),
])
def test_loop_numbers_outside_their_range(config, expected):
    assert messages(loop(config)) == [("loop", None, expected)]


@pytest.mark.parametrize(("policy", "expected"), [
    ({"collectErrors": "yes"}, "config.parallel.collectErrors: 'yes' is not of type 'boolean'"),
    ({"failFast": 1}, "config.parallel.failFast: 1 is not of type 'boolean'"),
    ({"cancelOnFailure": "no"}, "config.parallel.cancelOnFailure: 'no' is not of type 'boolean'"),
    ({"totalTimeout": "60s"}, "config.parallel.totalTimeout: '60s' is not of type 'integer'"),
])
def test_a_wrongly_typed_option_of_a_loops_parallel_policy_is_named(policy, expected):
    """A loop's `parallel` is `true`/`false` or a policy object: a policy with a wrongly typed
    option is named by that option, not called "not of type 'boolean'" as a whole."""
    assert messages(loop({"parallel": policy})) == [("loop", None, expected)]
    assert messages(loop({"parallel": "yes"})) == [("loop", None, "config.parallel: 'yes' is not of type 'boolean'")]


@pytest.mark.parametrize(("config", "expected"), [
    ({"itemVariable": "user.name"},
     "config.itemVariable: 'user.name' is not a name a template can use: letters, digits, _ and $, not starting with a digit"),
    ({"outputVariable": "all results"},
     "config.outputVariable: 'all results' is not a name a template can use: letters, digits, _ and $, not starting with a digit"),
    ({"itemVariable": "parallel"},
     "config.itemVariable: 'parallel' is a built-in name: {{parallel}} would not read the item"),
    ({"outputVariable": "input"},
     "config.outputVariable: 'input' is a built-in name: {{input}} would not read the results"),
    ({"outputVariable": "start"},
     "config.outputVariable: 'start' is a node id: {{start}} would read that node's output, not the results"),
])
def test_loop_item_and_output_variables_must_be_names_a_template_reaches(config, expected):
    """The seed's `itemVariable: "user"` and `outputVariable: "results"` are read as {{user}}
    and {{results}}: a name no template can reach, or one a built-in or a node id shadows,
    used to be accepted and then read as nothing, or as something else."""
    assert messages(loop(config)) == [("loop", None, expected)]
    assert messages(loop({"itemVariable": "user", "outputVariable": "results"})) == []
    assert messages(loop({"itemVariable": "", "outputVariable": ""})) == []  # cleared: the default


def test_node_delays_timeouts_and_retries_outside_their_range():
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 1e15}},
                    {"id": "call", "type": "fail", "config": {"timeout": 0, "retry": {"maxAttempts": 1000}}}],
                   [("start", "wait"), ("wait", "call")])
    assert sorted(messages(d)) == [
        ("call", None, "config.retry.maxAttempts: 1000 is out of range: allowed 1 to 100"),
        ("call", None, f"config.timeout: 0 is out of range: allowed 1 to {MAX_DURATION_MS}"),
        ("wait", None, f"config.duration: 1000000000000000.0 is out of range: allowed 0 to {MAX_DURATION_MS}"),
    ]


def test_an_emptied_required_field_is_one_problem_said_once():
    """A cleared delay read "'' is not a number of milliseconds…" and "is required (it is
    empty)": two lines for one fix, where the editor's instant check had said one."""
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": ""}},
                    {"id": "call", "type": "http", "config": {"method": "GET", "url": ""}}],
                   [("start", "wait"), ("wait", "call")])
    assert sorted(messages(d)) == [
        ("call", None, "config.url: is required (it is empty)"),
        ("wait", None, "config.duration: is required (it is empty)"),
    ]


def test_compensate_naming_a_missing_node_is_an_error():
    d = definition([START, {"id": "charge", "type": "log", "config": {"message": "x", "compensate": "refund"}},
                    {"id": "refund_card", "type": "log", "config": {"message": "y"}}], [("start", "charge")])
    assert ("charge", None, "config.compensate: 'refund' is not a node — did you mean 'refund_card'?") in messages(d)


def test_a_parallel_policy_where_no_branches_join_is_an_error():
    d = definition([START, {"id": "t", "type": "transform", "config": {"parallel": {"onPartialFailure": "continue"}}}],
                   [("start", "t")])
    [(node, _, message)] = messages(d)
    assert node == "t" and message.startswith("config.parallel: a parallel policy applies where branches join")
    no_join = definition([START], [], parallel={"failFast": True})
    [(_, _, message)] = messages(no_join)
    assert message.startswith("settings.parallel: this workflow has no join")


def test_a_parallel_policy_on_a_transform_join_and_in_settings_is_valid():
    d = definition([START, {"id": "a", "type": "log", "config": {"message": "a"}},
                    {"id": "b", "type": "log", "config": {"message": "b"}},
                    {"id": "t", "type": "transform", "config": {"parallel": {"onPartialFailure": "continue"}}}],
                   [("start", "a"), ("start", "b"), ("a", "t"), ("b", "t")], parallel={"collectErrors": True})
    assert messages(d) == []


def test_branch_settings_on_an_edge_that_starts_no_branch_are_an_error():
    d = definition([START, {"id": "a", "type": "log", "config": {"message": "a"}}],
                   [{"source": "start", "target": "a", "branch": {"timeout": 1000}}])
    [(_, edge, message)] = messages(d)
    assert edge == "e0" and "does not start a branch" in message
    named = definition([START, {"id": "a", "type": "log", "config": {"message": "a"}}],
                       [{"source": "start", "target": "a", "branch": {"name": "solo"}}])
    report = validate_definition(named)
    assert report.errors == [] and "does not start a branch" in report.warnings[0]["message"]


def test_expression_without_operation_is_a_valid_custom_transform():
    """The seed's Logging block: no misleading "'path' is a required property"."""
    d = definition([START, {"id": "log", "type": "transform", "config": {"expression": "return input;"}}],
                   [("start", "log")])
    assert messages(d) == []


def test_the_engine_refuses_an_invalid_definition_on_run():
    with pytest.raises(DefinitionError, match="did you mean 'maxConcurrency'"):
        Graph.from_definition(loop({"maxConcurency": 3}))
