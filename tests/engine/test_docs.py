"""docs/node-types.md is generated from the node schemas the API serves: it must be up to
date (run `python manage.py docs` after changing a node type) and name every type and option."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from engine.api import node_type_descriptions
from engine.docs import NODE_TYPES_DOC, current_node_types_doc, render_node_types


def test_node_types_doc_is_up_to_date() -> None:
    assert NODE_TYPES_DOC.exists(), "docs/node-types.md is missing: run `python manage.py docs`"
    assert NODE_TYPES_DOC.read_text(encoding="utf-8") == current_node_types_doc(), (
        "docs/node-types.md is stale: run `python manage.py docs`")
    call_command("docs", "--check")


def test_every_type_and_option_is_documented() -> None:
    text = NODE_TYPES_DOC.read_text(encoding="utf-8")
    for info in node_type_descriptions():
        assert f"## {info['type']}\n" in text
        for option in info["schema"].get("properties", {}):
            assert f"`{option}`" in text, f"{info['type']}.{option} is not documented"
    assert "SPEC" not in text and "../shared" not in text


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "node-types.md"
    stale.write_text("old", encoding="utf-8")
    monkeypatch.setattr("engine.management.commands.docs.NODE_TYPES_DOC", stale)
    with pytest.raises(CommandError, match="stale"):
        call_command("docs", "--check")
    # A new option in a schema changes the document.
    types = node_type_descriptions()
    types[0]["schema"].setdefault("properties", {})["brandNew"] = {"type": "string", "description": "a new option"}
    assert "`brandNew`" in render_node_types(types)


def test_readme_and_docs_never_send_readers_outside_the_repository() -> None:
    from django.conf import settings

    root = settings.BASE_DIR
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{path.name} links to ../shared, which users do not have"
        for target in __import__("re").findall(r"\]\(((?!https?:|#)[^)#]+)", text):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_what_users_read_cites_no_specification_they_do_not_have() -> None:
    """The README, docs/ and the demo workflows' descriptions (shown in the workflow list)
    cited "SPEC §3", "SPEC §4.3", "SPEC §9": a document that is not in the repository, so a
    reader looked for it in vain."""
    import json

    from django.conf import settings

    root = settings.BASE_DIR
    texts = {path.name: path.read_text(encoding="utf-8") for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]}
    for path in sorted((root / "editor" / "demo").glob("*.json")):
        texts[path.name] = json.loads(path.read_text(encoding="utf-8")).get("description", "")
    assert [name for name, text in texts.items() if "SPEC" in text] == []
