from engine.nodes.log import LogNode


def test_log_writes_the_rendered_message_and_passes_input_on(run_node):
    output, logs = run_node("log", {"message": "Branch 1.2 processing item 3"}, input={"a": 1})
    assert output == {"a": 1}
    assert logs == ["Branch 1.2 processing item 3"]


def test_log_levels_prefix_warnings_and_errors(run_node):
    _, warn = run_node("log", {"message": "careful", "level": "warn"})
    _, error = run_node("log", {"message": "broken", "level": "error"})
    _, info = run_node("log", {"message": "fine", "level": "info"})
    assert warn == ["[warn] careful"]
    assert error == ["[error] broken"]
    assert info == ["fine"]


def test_a_whole_template_message_that_rendered_to_json_is_logged_as_json(run_node):
    _, logs = run_node("log", {"message": {"count": 2}})
    assert logs == ['{"count": 2}']


def test_log_schema_offers_levels():
    schema = LogNode.full_schema()
    assert schema["properties"]["level"]["enum"] == ["debug", "info", "warn", "error"]
    assert "timeout" in schema["properties"]  # common keys are part of every form
    assert LogNode.inline
