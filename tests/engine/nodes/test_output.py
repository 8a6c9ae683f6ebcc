def test_output_is_the_rendered_value_of_any_json_type(run_node):
    assert run_node("output", {"value": [{"id": 1}, {"id": 2}]})[0] == [{"id": 1}, {"id": 2}]
    assert run_node("output", {"value": "done"})[0] == "done"
    assert run_node("output", {"value": 42})[0] == 42


def test_output_without_a_value_is_null(run_node):
    assert run_node("output", {})[0] is None
