"""The page's examples run as written, and retries hold for the user's JavaScript (issue 15,
points 5 and 6), on the real coordinator with in-memory persistence."""

from __future__ import annotations

from tests.engine.definitions import START, custom_merge_definition


def test_a_custom_transform_that_throws_is_retried_as_configured(core, graph):
    d = graph([START, {"id": "flaky", "type": "transform", "config": {
                  "operation": "custom", "expression": "throw new Error('upstream said no');",
                  "retry": {"maxAttempts": 3, "initialDelay": 10}}}],
              [("start", "flaky")])
    ex = core.run(d)
    assert ex["status"] == "failed"
    runs = ex["by_node"]["flaky"]
    assert [r["attempt"] for r in runs] == [1, 2, 3]
    assert all("upstream said no" in r["error"]["message"] for r in runs if r["status"] == "failed")


def test_retries_run_out_then_on_error_continue_applies(core, graph):
    d = graph([START, {"id": "flaky", "type": "transform", "config": {
                  "expression": "throw new Error('always');",
                  "retry": {"maxAttempts": 2, "initialDelay": 1}, "onError": "continue"}}],
              [("start", "flaky")])
    ex = core.run(d)
    runs = ex["by_node"]["flaky"]
    assert [r["attempt"] for r in runs] == [1, 2]  # expression without operation: custom, and retried
    assert ex["status"] == "succeeded" and "Error: always" in runs[-1]["output"]["error"]["message"]


def test_a_syntax_error_is_not_retried_and_the_node_run_says_so(core, graph):
    d = graph([START, {"id": "broken", "type": "transform", "config": {
                  "operation": "custom", "expression": "return {;", "retry": {"maxAttempts": 3, "initialDelay": 10}}}],
              [("start", "broken")])
    ex = core.run(d)
    [run] = ex["by_node"]["broken"]
    assert run["status"] == "failed" and "Syntax error" in run["error"]["message"]
    assert "cannot change on a retry" in run["error"]["notRetried"]


def test_logging_block_expression_without_operation_is_a_custom_transform(core, graph):
    """Seed, "Logging": `{type: "transform", expression: `console.log(...); return input;`}`."""
    expression = """
    console.log('Branch ${branch.id} processing item ${parallel.index}');
    return input;
  """
    d = graph([START, {"id": "log", "type": "transform", "config": {"expression": expression}}], [("start", "log")])
    ex = core.run(d, {"n": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["by_node"]["log"][0]["output"] == {"n": 1}
    logs = [e["data"]["message"] for e in ex["events"] if e["type"] == "log"]
    assert len(logs) == 1 and logs[0].startswith("Branch main processing item")


def test_array_path_to_a_response_says_what_it_found_and_suggests_the_array(core, graph):
    response = "return {status: 200, headers: {'content-type': 'application/json'}, body: [{id: 1}, {id: 2}]};"
    d = graph([START, {"id": "users", "type": "transform", "config": {"expression": response}},
               {"id": "loop", "type": "loop", "config": {"arrayPath": "{{users}}", "itemVariable": "user"}},
               {"id": "each", "type": "log", "parentId": "loop", "config": {"message": "{{user.id}}"}}],
              [("start", "users"), ("users", "loop")])
    ex = core.run(d)
    assert ex["status"] == "failed"
    [loop] = ex["by_node"]["loop"]
    assert loop["error"]["message"] == (
        "arrayPath '{{users}}' resolved to an object with keys 'status', 'headers', 'body', not an array"
        " — did you mean '{{users.body}}'?")
    assert "each" not in ex["by_node"]  # not three items status/headers/body


def test_a_node_right_after_a_merge_reads_the_branches_by_name(core):
    """Seed "Custom Merge Logic" placed after an "Automatic Merge"."""
    d = custom_merge_definition(after_merge=True)
    ex = core.run(d)
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["by_node"]["combine"][0]["output"]
    assert out["totalUsers"] == 3 and out["allEmails"] == ["a@x", "b@x", "c@x"]
