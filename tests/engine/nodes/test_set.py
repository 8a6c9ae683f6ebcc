import pytest

from engine.nodes.base import NodeError


def test_set_outputs_the_rendered_values(run_node):
    output, _ = run_node("set", {"values": {"greeting": "hello alice", "count": 3}})
    assert output == {"greeting": "hello alice", "count": 3}


def test_set_with_no_values_sets_nothing(run_node):
    output, _ = run_node("set", {})
    assert output == {}


def test_set_values_must_be_an_object(run_node):
    with pytest.raises(NodeError, match="must be an object"):
        run_node("set", {"values": [1, 2]})
