import pytest

from engine.expressions import ExpressionError
from engine.nodes.base import Route
from engine.nodes.condition import ConditionNode


@pytest.mark.parametrize(
    "expression, handle",
    [
        ("input.status === 200", "true"),
        ("input.status >= 500", "false"),
        ("input.items", "true"),  # [] and {} are truthy in JavaScript
        ("input.items.length", "false"),
        ("input.name", "false"),  # ""
        ("input.missing", "false"),  # undefined
        ("if (input.status === 200) { return 'ok' } return 0", "true"),
        ("input.items.some(function (x) { return x > 1 })", "false"),
    ],
)
def test_condition_follows_the_handle_by_javascript_truthiness(run_node, expression, handle):
    data = {"status": 200, "items": [], "name": ""}
    route, _ = run_node("condition", {"expression": expression}, input=data)
    assert isinstance(route, Route)
    assert route.handle == handle
    assert route.output == data


def test_condition_can_read_variables_and_log(run_node):
    route, logs = run_node(
        "condition",
        {"expression": "console.log('limit', variables.limit); return input.total > variables.limit"},
        input={"total": 12},
        scope={"variables": {"limit": 10}},
    )
    assert route.handle == "true"
    assert logs == ["limit 10"]


def test_a_broken_condition_fails_with_the_line(run_node):
    with pytest.raises(ExpressionError, match=r"line 2"):
        run_node("condition", {"expression": "const a = 1;\nreturn a +;"})


def test_condition_declares_its_handles():
    assert ConditionNode.output_handles == ["true", "false"]
    assert ConditionNode.raw_fields == frozenset({"expression"})
    assert ConditionNode.describe()["ports"]["outputs"] == ["out", "true", "false"]
