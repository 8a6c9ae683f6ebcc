"""The Makefile's stamps: a second `make run` (or `make setup`) reinstalls nothing and
rebuilds nothing when nothing changed, and does when what it depends on changed.

`make -n` (print, run nothing) in a temporary copy that holds the Makefile and files
standing in for what its rules read: the Python packages' stamp in the venv, npm's lock
stamp in node_modules and the front end's build manifest. File times are set, not waited
for; no pip, npm or build ever runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each set-up step prints under `make -n`.
PIP_INSTALL = "pip install -q -e '.[dev]'"
NPM_CI = "npm ci"
FRONTEND_BUILD = "npm run build"

INPUTS = ["pyproject.toml", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json",
          "tsconfig.node.json", "editor/frontend/src/main.tsx", "editor/frontend/src/pages/EditorPage.tsx"]
# What the steps leave behind (the stamps `make` compares with), and the venv it needs.
STAMPS = [".venv/bin/activate", ".venv/.flowmaestro-deps", "node_modules/.package-lock.json",
          "static/dist/.vite/manifest.json"]

BEFORE = time.time() - 3600  # the inputs, as the last set-up found them
SET_UP = BEFORE + 600  # the last set-up's stamps
NOW = BEFORE + 1200  # an edit since


def set_time(path: Path, when: float) -> None:
    os.utime(path, (when, when))


@pytest.fixture
def copy(tmp_path: Path) -> Iterator[Path]:
    """A checkout that was set up once and not touched since."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in INPUTS + STAMPS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for path in tmp_path.rglob("*"):
        set_time(path, BEFORE)
    for name in STAMPS:
        set_time(tmp_path / name, SET_UP)
    yield tmp_path


def make_would_run(where: Path, target: str = "setup") -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed (`make test` needs it)")
    printed = subprocess.run([make, "-n", target], cwd=where, capture_output=True, text=True, timeout=60,
                             # Not the flags of the `make test` this may run under.
                             env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")})
    assert printed.returncode == 0, printed.stderr
    return printed.stdout


def steps(printed: str) -> set[str]:
    return {step for step in (PIP_INSTALL, NPM_CI, FRONTEND_BUILD) if step in printed}


@pytest.mark.parametrize("target", ["setup", "run"])
def test_a_second_run_with_nothing_changed_installs_and_builds_nothing(copy: Path, target: str) -> None:
    printed = make_would_run(copy, target)
    assert steps(printed) == set(), printed
    if target == "run":
        assert "daphne" in printed  # the server still starts


def test_the_first_run_installs_and_builds_everything(copy: Path) -> None:
    for name in STAMPS[1:]:
        (copy / name).unlink()
    assert steps(make_would_run(copy)) == {PIP_INSTALL, NPM_CI, FRONTEND_BUILD}


@pytest.mark.parametrize(("changed", "expected"), [
    ("pyproject.toml", {PIP_INSTALL}),
    ("package.json", {NPM_CI, FRONTEND_BUILD}),
    ("package-lock.json", {NPM_CI, FRONTEND_BUILD}),
    ("vite.config.ts", {FRONTEND_BUILD}),
    ("tsconfig.json", {FRONTEND_BUILD}),
    ("editor/frontend/src/pages/EditorPage.tsx", {FRONTEND_BUILD}),
])
def test_an_edited_input_redoes_its_steps_only(copy: Path, changed: str, expected: set[str]) -> None:
    set_time(copy / changed, NOW)
    assert steps(make_would_run(copy)) == expected


def test_a_front_end_source_added_or_deleted_rebuilds(copy: Path) -> None:
    # A new file changes its directory's time, not any file the last build read.
    added = copy / "editor/frontend/src/pages/NewPage.tsx"
    added.write_text("")
    set_time(added, BEFORE)
    set_time(added.parent, NOW)
    assert steps(make_would_run(copy)) == {FRONTEND_BUILD}

    added.unlink()
    set_time(added.parent, BEFORE)
    assert steps(make_would_run(copy)) == set()
    (copy / "editor/frontend/src/main.tsx").unlink()
    set_time(copy / "editor/frontend/src", NOW)
    assert steps(make_would_run(copy)) == {FRONTEND_BUILD}
