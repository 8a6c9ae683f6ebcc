import pytest

from engine.expressions import ExpressionError
from engine.nodes.base import NodeError
from engine.nodes.transform import TransformNode
from tests.engine.definitions import SEED_CUSTOM_MERGE


def test_passthrough_returns_the_input(run_node):
    assert run_node("transform", {"operation": "passthrough"}, input={"a": [1]})[0] == {"a": [1]}


@pytest.mark.parametrize(
    "path, expected",
    [
        ("body.users", [{"email": "a@x.io"}, {"email": "b@x.io"}]),
        ("body.users[1].email", "b@x.io"),
        ("input.body.total", 2),
        ("body.missing.deeper", None),
        ("", {"body": {"users": [{"email": "a@x.io"}, {"email": "b@x.io"}], "total": 2}}),
    ],
)
def test_pick_follows_a_dotted_path_into_the_input(run_node, path, expected):
    data = {"body": {"users": [{"email": "a@x.io"}, {"email": "b@x.io"}], "total": 2}}
    assert run_node("transform", {"operation": "pick", "path": path}, input=data)[0] == expected


def test_merge_deep_merges_the_branches_in_branch_order(run_node):
    branches = {
        "branch_a": {"user": {"id": 1, "name": "Ann"}, "tags": ["a"]},
        "branch_b": {"user": {"email": "ann@x.io"}, "tags": ["b"]},
        "branch_c": {"user": {"name": "Ann B."}},
    }
    output, _ = run_node("transform", {"operation": "merge"}, branches=branches, input=None)
    # Objects merge key by key; later branches win on conflicts; lists are replaced.
    assert output == {"user": {"id": 1, "name": "Ann B.", "email": "ann@x.io"}, "tags": ["b"]}


def test_merge_of_an_input_list_of_objects(run_node):
    output, _ = run_node("transform", {"operation": "merge"}, input=[{"a": 1, "n": {"x": 1}}, {"b": 2, "n": {"y": 2}}])
    assert output == {"a": 1, "b": 2, "n": {"x": 1, "y": 2}}


def test_merge_refuses_values_that_are_not_objects(run_node):
    with pytest.raises(NodeError, match="branch_b is list"):
        run_node("transform", {"operation": "merge"}, branches={"branch_a": {"a": 1}, "branch_b": [1, 2]})
    with pytest.raises(NodeError, match="incoming branches or an input list"):
        run_node("transform", {"operation": "merge"}, input="text")


def test_the_seed_custom_merge_runs_verbatim(run_node):
    branches = {
        "branch_a": {"count": 2, "emails": ["a@x.io", "b@x.io"]},
        "branch_b": {"count": 1, "emails": ["c@x.io"]},
    }
    output, logs = run_node("transform", {"operation": "custom", "expression": SEED_CUSTOM_MERGE}, branches=branches)
    assert output["totalUsers"] == 3
    assert output["allEmails"] == ["a@x.io", "b@x.io", "c@x.io"]
    assert isinstance(output["merged"], int) and output["merged"] > 1_600_000_000_000
    assert logs == []


def test_the_seed_logging_example_logs_branch_and_index_and_returns_input(run_node):
    expression = """
    console.log('Branch ${branch.id} processing item ${parallel.index}');
    return input;
  """
    output, logs = run_node(
        "transform",
        {"operation": "custom", "expression": expression},
        input={"id": 7},
        scope={"branch": {"id": "1.2", "name": "branch_b"}, "parallel": {"index": 4, "total": 10, "batchId": 0}},
    )
    assert output == {"id": 7}
    assert logs == ["Branch 1.2 processing item 4"]


def test_custom_sees_upstream_outputs_variables_and_loop_item(run_node):
    output, _ = run_node(
        "transform",
        {"operation": "custom", "expression": "({ n: users.body.length, base: variables.apiBase, me: user.id, i: parallel.index })"},
        scope={
            "users": {"status": 200, "body": [1, 2, 3]},
            "variables": {"apiBase": "http://api"},
            "user": {"id": 42},
            "parallel": {"index": 1},
            "get-users": {"skipped": "not an identifier"},
        },
    )
    assert output == {"n": 3, "base": "http://api", "me": 42, "i": 1}


def test_a_thrown_error_fails_the_node_retryably_and_keeps_its_logs(node_context):
    """A configured retry holds for errors the user's code throws (issue 15): the node's
    `retry` decides, not the sandbox."""
    logs: list[str] = []
    expression = "console.log('before'); throw new Error('no users')"
    ctx = node_context("transform", {"operation": "custom", "expression": expression}, logs=logs)
    with pytest.raises(ExpressionError) as info:
        TransformNode().run(ctx)
    assert info.value.retryable is True
    assert "no users" in info.value.message
    assert logs == ["before"]


def test_a_syntax_error_is_never_retryable(node_context):
    ctx = node_context("transform", {"operation": "custom", "expression": "return {;"})
    with pytest.raises(ExpressionError) as info:
        TransformNode().run(ctx)
    assert info.value.retryable is False and info.value.kind == "syntax"


def test_expression_is_a_raw_field_and_transform_is_not_inline():
    assert TransformNode.raw_fields == frozenset({"expression"})
    assert TransformNode.inline is False
    assert TransformNode.full_schema()["properties"]["operation"]["enum"] == ["passthrough", "pick", "merge", "custom"]


def test_only_custom_transforms_leave_the_coordinator():
    assert TransformNode.runs_inline({"operation": "pick", "path": "a"}) is True
    assert TransformNode.runs_inline({}) is True
    assert TransformNode.runs_inline({"operation": "custom", "expression": "1"}) is False
