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
    assert set(NODE_MODULES) <= set(REGISTRY)


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
