import pytest

from engine.nodes.base import NodeError, Sleep


@pytest.mark.parametrize("duration, expected", [(250, 250.0), ("250", 250.0), (" 1500 ", 1500.0), (0, 0.0), (12.5, 12.5)])
def test_delay_asks_the_runtime_to_sleep_and_passes_input_on(run_node, duration, expected):
    result, _ = run_node("delay", {"duration": duration}, input={"x": 1})
    assert isinstance(result, Sleep)
    assert result.duration_ms == expected
    assert result.output == {"x": 1}


@pytest.mark.parametrize("duration", ["soon", -5, None, True, "inf"])
def test_a_duration_that_is_not_milliseconds_fails_clearly(run_node, duration):
    with pytest.raises(NodeError, match="duration"):
        run_node("delay", {"duration": duration})
