import pytest

from engine.nodes.base import NodeError


def test_fail_raises_its_message_as_a_retryable_error(run_node):
    with pytest.raises(NodeError) as info:
        run_node("fail", {"message": "Payment service down", "details": {"code": 503}})
    assert info.value.message == "Payment service down"
    assert info.value.retryable is True
    assert info.value.as_dict() == {"message": "Payment service down", "details": {"code": 503}}


def test_fail_has_a_default_message(run_node):
    with pytest.raises(NodeError, match="Failed on purpose"):
        run_node("fail", {})
