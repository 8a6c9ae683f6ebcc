"""One sandbox worker process (`worker.py`) as the pool in `sandbox.py` uses it: started,
sent one length-prefixed JSON request at a time, read with a deadline, killed or closed.
Why a process and not an isolate in this one: `sandbox.py`'s docstring."""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

WORKER_PATH = str(Path(__file__).with_name("worker.py"))
STARTUP_TIMEOUT_S = 30.0


class WorkerTimeout(Exception):
    pass


class WorkerCrashed(Exception):
    def __init__(self, message: str, *, out_of_memory: bool):
        super().__init__(message)
        self.out_of_memory = out_of_memory


class WorkerProcess:
    """One `worker.py` process; used by one evaluation at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own script, no shell, no user text
            [sys.executable, WORKER_PATH],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        # V8 runs outside the GIL: not on the one core a pinned server keeps its threads on.
        from flowmaestro.affinity import release

        release(self.proc.pid)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin: IO[bytes] = self.proc.stdin
        self._stdout_fd = self.proc.stdout.fileno()
        # V8 prints why it aborted (e.g. "Fatal JavaScript out of memory") on stderr.
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._stderr_reader = threading.Thread(
            target=self._drain_stderr, args=(self.proc.stderr,), name="sandbox-stderr", daemon=True
        )
        self._stderr_reader.start()
        self._read_message(time.monotonic() + STARTUP_TIMEOUT_S)  # the "ready" line

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def request(self, payload: bytes, deadline: float) -> dict[str, Any]:
        try:
            self._stdin.write(struct.pack(">I", len(payload)) + payload)
            self._stdin.flush()
        except OSError:
            raise self._crashed() from None
        return self._read_message(deadline)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        header = self._read_exact(4, deadline)
        message: dict[str, Any] = json.loads(self._read_exact(struct.unpack(">I", header)[0], deadline))
        return message

    def _read_exact(self, size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise WorkerTimeout()
            readable, _, _ = select.select([self._stdout_fd], [], [], wait)
            if not readable:
                raise WorkerTimeout()
            chunk = os.read(self._stdout_fd, min(remaining, 1 << 20))
            if not chunk:
                raise self._crashed()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _crashed(self) -> WorkerCrashed:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stderr_reader.join(timeout=2)
        tail = "\n".join(self.stderr_tail)
        lines = [line.strip("# ") for line in self.stderr_tail if line.strip("# ")]
        return WorkerCrashed(
            lines[-1] if lines else f"exit code {self.proc.returncode}",
            out_of_memory="out of memory" in tail.lower() or "heap limit" in tail.lower(),
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        # Closing stdin makes the worker's read loop end; kill it if it does not.
        try:
            self._stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()
