"""The PostgreSQL pass without PostgreSQL (tests/pg.py): skipped with the reason on a
developer's machine, an error under CI=true — CI never passes by skipping a database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_TEST = "tests/engine/test_database_budget.py::test_sqlite_has_no_pool"


def pytest_without_postgres(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "DATABASE_URL", "FLOWMAESTRO_TEST_DATABASE"}}
    env["FLOWMAESTRO_PG_BINDIR"] = str(ROOT / "no-postgresql-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "--database=postgres",
                           ONE_TEST], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_without_postgresql_the_postgres_pass_skips_with_the_reason() -> None:
    done = pytest_without_postgres(ci=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "PostgreSQL run skipped: PostgreSQL binaries (initdb, pg_ctl) not found" in done.stdout


def test_under_ci_without_postgresql_the_postgres_pass_fails() -> None:
    done = pytest_without_postgres(ci=True)
    assert done.returncode != 0
    assert "CI=true and PostgreSQL cannot be started" in done.stdout + done.stderr
    assert "passed" not in done.stdout
