"""A real daphne for tests that need the server's own behaviour (pings, raw frames, the
HTTP bridge): on a free port, over the test database, with no engine inside (the test
writes what the server should follow)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.pg import current_database_url

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running_daphne(*args: str, env: dict[str, str] | None = None, output: Path | None = None) -> Iterator[str]:
    """Yields "127.0.0.1:<port>" once daphne accepts connections; `args` go to daphne,
    `env` over the server's environment; `output`: a file for what it prints (its access log
    and its logging), else nothing is kept."""
    # The test binds the port and hands daphne the listening socket (`--fd`): a port found
    # free and closed again could be taken by another server before daphne bound it, and the
    # check below would then have talked to that one.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    server_env = {**os.environ, "DATABASE_URL": current_database_url(),
                  "FLOWMAESTRO_ENGINE_IN_PROCESS": "false", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                  **(env or {})}
    server_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    sink = open(output, "ab") if output is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
    with listener:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("daphne")), "--fd", str(listener.fileno()), *args,
             "flowmaestro.asgi:application"],
            cwd=ROOT, env=server_env, stdout=sink, stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
            pass_fds=(listener.fileno(),),
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            # The socket listens before daphne runs, so a connection alone proves nothing:
            # wait for an answer. (A bad request line: daphne's HTTP parser answers it 400
            # itself, so the probe reaches no view, throttle, database or access log.)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                    probe.sendall(b"PROBE\r\n\r\n")
                    if probe.recv(5) == b"HTTP/":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("daphne did not start", pytrace=False)
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        if output is not None:
            sink.close()  # type: ignore[union-attr]
