"""`make run PORT=…` as make prints it (`make -n`: nothing runs). The port moved daphne
only: the printed login still said http://127.0.0.1:8000/ and the demo workflows called
the demo API on port 8000, so every demo run on another port failed with a refused
connection (or, worse, reached another FlowMaestro that happened to be on 8000)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_run_printed(*args: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed (`make test` needs it)")
    printed = subprocess.run([make, "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             # Not the flags of the `make test` this may run under.
                             env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")})
    assert printed.returncode == 0, printed.stderr
    return printed.stdout


def test_make_run_on_another_port_prints_that_port_and_points_the_demos_at_it() -> None:
    printed = make_run_printed("PORT=8765")
    assert "daphne -b 127.0.0.1 -p 8765" in printed
    assert "ensure_login --url http://127.0.0.1:8765/" in printed
    assert "load_demo --user admin --api-base http://127.0.0.1:8765/demo-api" in printed
    assert ":8000" not in printed


def test_make_run_by_default_serves_port_8000() -> None:
    printed = make_run_printed()
    assert "daphne -b 127.0.0.1 -p 8000" in printed
    assert "load_demo --user admin --api-base http://127.0.0.1:8000/demo-api" in printed
