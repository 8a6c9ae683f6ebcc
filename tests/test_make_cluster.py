"""`make cluster` as make prints it (`make -n`: nothing runs): the cluster's secret key never
appears on a printed command line, and the login it ensures gets a random password."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_cluster_prints_no_secret_key_and_asks_for_a_random_password() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed (`make test` needs it)")
    key = "my-own-cluster-key-4c1f"
    printed = subprocess.run([make, "-n", "cluster"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             # Not the flags of the `make test` this may run under.
                             env={**{k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")},
                                  "DJANGO_SECRET_KEY": key, "DATABASE_URL": "postgres://u@h/db"})
    assert printed.returncode == 0, printed.stderr
    assert "honcho start -f Procfile" in printed.stdout
    assert key not in printed.stdout and "DJANGO_SECRET_KEY" not in printed.stdout
    assert "ensure_login --url http://127.0.0.1:8001/ --random-password" in printed.stdout


def _printed_cluster(extra: dict[str, str]) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed (`make test` needs it)")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                                                             "FLOWMAESTRO_HTTP_ALLOW_PRIVATE")}
    printed = subprocess.run([make, "-n", "cluster"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**env, "DATABASE_URL": "postgres://u@h/db", **extra})
    assert printed.returncode == 0, printed.stderr
    return next(line for line in printed.stdout.splitlines() if "honcho start -f Procfile" in line)


def test_make_cluster_lets_the_demo_workflows_call_this_machine() -> None:
    # The demo workflows (Load demo workflows) call http://127.0.0.1:8001/demo-api: without
    # this every demo run on `make cluster` failed with "Refused GET …: a private, loopback
    # or reserved address", while the same demos passed on `make run`.
    assert "FLOWMAESTRO_HTTP_ALLOW_PRIVATE=1 " in _printed_cluster({})
    # An operator's own choice is kept.
    assert "FLOWMAESTRO_HTTP_ALLOW_PRIVATE=0 " in _printed_cluster({"FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "0"})
