"""A local scale-out cluster of real processes, for the scale-out tests and
`manage.py bench scaleout`: a throw-away redis-server, Celery workers (each one a
coordinator plus node-body slots) and daphne processes without an engine, all against one
database (`DATABASE_URL`) with `FLOWMAESTRO_EXECUTOR=celery` — what `make cluster` starts
from the Procfile, with free ports and per-process logs in a temporary directory."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Every process of a cluster signs with one key (a session made by prepare_database is valid
# in each daphne), and daphne refuses the development key without DEBUG.
CLUSTER_ENV = {"DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
               # The benchmarks and tests drive it far past a user's API rate.
               "FLOWMAESTRO_THROTTLE_ANON": "off", "FLOWMAESTRO_THROTTLE_USER": "off"}


def _die_with_parent() -> None:
    """(In the child, before exec.) Linux: SIGTERM this process when the process that started
    it dies, so that a test run or bench killed from outside (a CI timeout, `timeout`, a
    signal Python does not turn into an exception) leaves no cluster behind taking CPU and
    ports from the next run."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    binary = "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: install the `redis-server` apt package")
    return binary


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    address: str = ""  # host:port of a daphne

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class LocalCluster:
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="flowmaestro-cluster-")))
    redis_url: str = ""
    procs: list[Proc] = field(default_factory=list)

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        env.update({"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                    "FLOWMAESTRO_EXECUTOR": "celery", "FLOWMAESTRO_ENGINE_IN_PROCESS": "false",
                    "DJANGO_SETTINGS_MODULE": "flowmaestro.settings", "PYTHONUNBUFFERED": "1", **CLUSTER_ENV})
        env.update(self.env)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.root / f"{name}-{len(self.procs)}.log"  # a restarted process gets a new log
        with log.open("ab") as out:
            # The parent-death signal follows the thread that forks: only from the main thread,
            # whose end is the process's.
            tied = sys.platform == "linux" and threading.current_thread() is threading.main_thread()
            popen = subprocess.Popen(argv, cwd=ROOT, env=env or self.base_env(), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent if tied else None)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_redis(self) -> str:
        port = free_port()
        proc = self._spawn("redis", [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no"], env=dict(os.environ))
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}: {proc.log_text()[-2000:]}")
            time.sleep(0.05)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        return self.redis_url

    def start_worker(self, name: str, *, concurrency: int = 8, queues: str = "executions,nodes",
                     wait: bool = True) -> Proc:
        argv = [str(BIN / "celery"), "-A", "flowmaestro", "worker", "-Q", queues, "-n", f"{name}@%h",
                "-c", str(concurrency), "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        proc = self._spawn(name, argv)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: Proc, timeout: float = 60) -> None:
        """A worker is ready when Celery says so and its coordinator has started."""
        deadline = time.monotonic() + timeout
        while True:
            text = proc.log_text()
            if " ready." in text and "coordinates executions" in text:
                return
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"worker {proc.name} did not start: {text[-3000:]}")
            time.sleep(0.1)

    def start_flower(self, name: str = "flower") -> Proc:
        """Flower on a free port: it turns the workers' task events on and shows the tasks
        (the node bodies, named by their attempt ids) and the workers."""
        port = free_port()
        env = {**self.base_env(), "FLOWER_UNAUTHENTICATED_API": "true"}
        argv = [str(BIN / "celery"), "-A", "flowmaestro", "flower", "--address=127.0.0.1", f"--port={port}"]
        proc = self._spawn(name, argv, env=env)
        return self._listening(proc, port, "flower")

    def start_daphne(self, name: str) -> Proc:
        port = free_port()
        argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "--ping-interval", "10",
                "--ping-timeout", "20", "flowmaestro.asgi:application"]
        proc = self._spawn(name, argv)
        return self._listening(proc, port, f"daphne {name}")

    @staticmethod
    def _listening(proc: Proc, port: int, what: str, timeout: float = 60) -> Proc:
        """`proc` once it accepts connections on `port` (its address set), or an error with its log."""
        proc.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return proc
            except OSError:
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start: {proc.log_text()[-3000:]}") from None
                time.sleep(0.1)

    def by_name(self, name: str) -> Proc:
        return next(p for p in reversed(self.procs) if p.name == name)

    def kill(self, proc: Proc, sig: int = signal.SIGKILL) -> None:
        """Kill a process and whatever it started (its session), e.g. `kill -9` of a worker."""
        if proc.alive():
            try:
                os.killpg(proc.popen.pid, sig)
            except ProcessLookupError:
                pass
            proc.popen.wait(30)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive():
                try:
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        shutil.rmtree(self.root, ignore_errors=True)


PREPARE = """
import json
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token
User = get_user_model()
user = User.objects.filter(username=NAME).first() or User.objects.create_superuser(NAME, "", "pw")
token, _ = Token.objects.get_or_create(user=user)
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print("PREPARED " + json.dumps({"user": user.pk, "token": token.key, "session": session.session_key}))
"""


def prepare_database(database_url: str, username: str = "cluster") -> dict[str, str]:
    """Migrate `database_url` and make sure a superuser with an API token and a logged-in
    session exists (for HTTP and websocket clients); returns {user, token, session}."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update({"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                "FLOWMAESTRO_ENGINE_IN_PROCESS": "false", **CLUSTER_ENV})
    env.pop("FLOWMAESTRO_EXECUTOR", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    done = subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed: {done.stdout}{done.stderr}")
    code = f"NAME = {username!r}\n{PREPARE}"
    done = subprocess.run([*manage, "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("PREPARED ")), None)
    if line is None:
        raise RuntimeError(f"preparing the database failed: {done.stdout}{done.stderr}")
    import json

    return {k: str(v) for k, v in json.loads(line.removeprefix("PREPARED ")).items()}
