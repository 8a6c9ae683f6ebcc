"""The node registry loads every node module, and a module that fails to import is an error
at start-up (not a type that silently goes missing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.nodes import NODE_MODULES, REGISTRY, NodeModuleError, _load

ROOT = Path(__file__).resolve().parents[3]


def test_every_node_module_registers_its_type() -> None:
    registering = {cls.__module__.rpartition(".")[2] for cls in REGISTRY.values()}
    silent = [module for module in NODE_MODULES if module not in registering]
    assert not silent, "\n".join(
        f"engine/nodes/{module}.py is in NODE_MODULES but registers no node type: decorate its NodeType "
        "subclass with `@register` (from engine.nodes)" for module in silent)


def test_a_node_module_that_fails_to_import_is_an_error_naming_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "brokennodes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text("VALUE = 1\n")
    (package / "bad.py").write_text("import a_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(NodeModuleError, match=r"^node type module brokennodes\.bad failed to import: "
                                              r"No module named 'a_module_that_does_not_exist'$"):
        _load(("good", "bad"), package="brokennodes")


def test_django_start_up_fails_when_a_node_module_is_broken(tmp_path: Path) -> None:
    """`manage.py check` (as any start) stops with the module's name when one node module
    cannot be imported: the engine app registers the node types when Django starts."""
    shim = tmp_path / "sitecustomize.py"
    # Make `engine.nodes.delay` unimportable in that process only.
    shim.write_text(
        "import sys\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'engine.nodes.delay':\n"
        "            raise ImportError('delay is broken on purpose')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Refuse())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "node type module engine.nodes.delay failed to import: delay is broken on purpose" in out.stderr


# --- a node type is complete: what a new one needs, and where ------------------------
# The checks below name the file and the line to add, so adding a node type is: write
# engine/nodes/<type>.py, then follow the failures (docs/architecture.md, "Add a node type").

NODES_DIR = ROOT / "engine" / "nodes"
# Modules of engine/nodes that are not node types.
NOT_NODE_MODULES = frozenset({"__init__", "base", "guarded_http"})
# Where a type's behaviour is tested when it is not tests/engine/nodes/test_<type>.py: these
# need the engine around them (a join, a container, a pause), so their tests run it.
TESTED_ELSEWHERE = {
    "approval": "tests/engine/test_signals.py",
    "loop": "tests/engine/core/test_loops.py",
    "merge": "tests/engine/core/test_joins.py",
}


def registered_modules() -> dict[str, list[str]]:
    """engine/nodes module -> the node types it registers (its `@register` classes)."""
    found: dict[str, list[str]] = {}
    for path in sorted(NODES_DIR.glob("*.py")):
        if path.stem in NOT_NODE_MODULES:
            continue
        found[path.stem] = [cls.type for cls in REGISTRY.values() if cls.__module__ == f"engine.nodes.{path.stem}"]
    return found


def test_every_module_in_engine_nodes_is_loaded_at_start_up() -> None:
    """A module missing from NODE_MODULES is never imported by Django: its type would be
    absent from the palette, the validator and the docs, with no error anywhere."""
    unlisted = [stem for stem in registered_modules() if stem not in NODE_MODULES]
    assert not unlisted, "\n".join(
        f"engine/nodes/{stem}.py is not loaded: add \"{stem}\" to NODE_MODULES in engine/nodes/__init__.py "
        f"(or, if it is a helper and not a node type, to NOT_NODE_MODULES in {Path(__file__).relative_to(ROOT)})"
        for stem in unlisted)


def test_every_node_module_registers_one_type_named_after_it() -> None:
    # A module NODE_MODULES does not list is never imported (the test above says so).
    # A type may have a hyphen (`sleep-random`); its module cannot (`sleep_random.py`).
    wrong = {stem: types for stem, types in registered_modules().items()
             if stem in NODE_MODULES and [t.replace("-", "_") for t in types] != [stem]}
    assert not wrong, "\n".join(
        f"engine/nodes/{stem}.py registers {types or 'no type'}: one module per node type, with "
        f"`@register` on a NodeType subclass whose `type = \"{stem}\"` (or with hyphens for its underscores)"
        for stem, types in wrong.items())


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_a_node_type_is_described_for_the_palette_and_the_docs(type_name: str) -> None:
    cls = REGISTRY[type_name]
    module = sys.modules[cls.__module__]
    where = f"{cls.__module__.replace('.', '/')}.py ({cls.__name__})"
    missing = [what for what, ok in [
        ("a module docstring saying what the node does", bool((module.__doc__ or "").strip())),
        ("`title` (the palette's label)", bool(getattr(cls, "title", ""))),
        ("`description` (the palette's tooltip and docs/node-types.md)", bool(cls.description.strip())),
        ("a `category` other than the base class's \"Core\" (the palette's group)", cls.category != "Core"),
        ("`config_schema` with `\"type\": \"object\"` and `\"properties\"`",
         cls.config_schema.get("type") == "object" and isinstance(cls.config_schema.get("properties"), dict)),
    ] if not ok]
    assert not missing, f"{where} lacks: " + "; ".join(missing)


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_a_new_node_with_the_types_defaults_is_valid(type_name: str) -> None:
    """The editor drops a new node with `defaults` as its config: apart from the required
    fields left for the user to fill in (an http node's URL), those must pass the type's own
    schema and `config_checks` (a default of the wrong type, out of range or misspelled would
    start every new node out red, with an error the user did not make)."""
    from engine.core.graph import validate_definition

    cls = REGISTRY[type_name]
    nodes: list[dict[str, object]] = [{"id": "n", "type": type_name, "config": dict(cls.defaults)}]
    if type_name != "start":
        nodes.insert(0, {"id": "s", "type": "start", "config": {}})
    edges = [] if type_name == "start" else [{"id": "e", "source": "s", "target": "n"}]
    report = validate_definition({"nodes": nodes, "edges": edges})
    config_errors = [e["message"] for e in report.errors if e.get("nodeId") == "n" and "config" in e["message"]
                     and not e["message"].endswith(("is a required property", "is required (it is empty)"))]
    assert not config_errors, (
        f"{cls.__module__.replace('.', '/')}.py: {cls.__name__}.defaults {cls.defaults!r} fail the type's own "
        f"config_schema / config_checks: {config_errors}")


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_node_type_has_tests(type_name: str) -> None:
    expected = TESTED_ELSEWHERE.get(type_name, f"tests/engine/nodes/test_{type_name.replace('-', '_')}.py")
    assert (ROOT / expected).exists(), (
        f"node type {type_name!r} has no tests: write {expected} (run_node(\"{type_name}\", config, input=…) "
        f"from tests/engine/nodes/conftest.py runs its body without the engine)")
