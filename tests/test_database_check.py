"""A DATABASE_URL the process cannot reach, as an operator meets it: daphne, a Celery worker
and `manage.py migrate` exit at once with one line naming the server and the driver's
reason, instead of waiting FLOWMAESTRO_DB_POOL_TIMEOUT (30 s) per query and ending in a
traceback whose last line said only "couldn't get a connection after 30.00 sec"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "s3cret-Pw-9f2"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens


@pytest.mark.parametrize(("argv", "what"), [
    (["manage.py", "migrate", "--noinput"], "manage.py migrate"),
    ([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "0", "flowmaestro.asgi:application"], "daphne"),
    ([str(BIN / "celery"), "-A", "flowmaestro", "worker", "-Q", "executions,nodes"], "the worker"),
], ids=["migrate", "daphne", "worker"])
def test_an_unreachable_database_is_one_line_at_once(argv: list[str], what: str) -> None:
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FLOWMAESTRO_"))
           and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "flowmaestro.settings", "DJANGO_DEBUG": "1",
                "DATABASE_URL": f"postgres://flow:{PASSWORD}@127.0.0.1:{port}/flows",
                # The worker's own settings are right; only the database is not.
                "REDIS_URL": f"redis://127.0.0.1:{port}/0", "FLOWMAESTRO_EXECUTOR": "celery"})
    if argv[0] == "manage.py":
        argv = [sys.executable, *argv]
    try:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=25)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} kept waiting for the database instead of saying it cannot reach it")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert (f"Refusing to start {what}: cannot connect to the database DATABASE_URL names "
            f"(flow@127.0.0.1:{port}/flows): ") in done.stderr
    assert "Connection refused" in done.stderr
    assert "Traceback" not in output
    assert PASSWORD not in output
