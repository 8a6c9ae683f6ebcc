from engine.nodes.start import StartNode


def test_start_outputs_the_run_input(run_node):
    output, logs = run_node("start", {}, input={"who": "alice", "items": [1, 2]})
    assert output == {"who": "alice", "items": [1, 2]}
    assert logs == []


def test_start_is_inline_and_has_no_input_port():
    assert StartNode.inline is True
    assert StartNode.describe()["ports"]["inputs"] == []
