"""A throw-away PostgreSQL cluster for the tests, started from the PostgreSQL binaries.

Loaded as a pytest plugin (`-p tests.pg` in pyproject's addopts), so that it runs before
pytest-django imports the settings:

- `pytest --database=postgres` (or `FLOWMAESTRO_TEST_DATABASE=postgres`) starts a cluster
  in a temporary directory before Django is set up and points `DATABASE_URL` at it; the
  whole suite then runs on PostgreSQL (pytest-django creates `test_flowmaestro` on it).
  The cluster listens on a unix socket in its own directory only (no TCP port to collide
  with other runs on the machine), with fsync off, and is stopped and removed at the end.
- Without PostgreSQL binaries the PostgreSQL run is skipped with the reason, except under
  `CI=true`, where it is an error: CI must never pass by skipping a database.
- The session fixture `postgres_cluster` gives any test a running cluster in either run
  (the run's own on PostgreSQL, one started on first use on SQLite), and
  `postgres_database()` a fresh, empty database URL on it (for multi-process tests).

As root (CI containers), `initdb` refuses to run: the cluster's processes then run as the
`postgres` user (created by the Debian package) or, failing that, as `nobody`.

Subprocesses of tests (daphne, runengine) reach the test database through
`current_database_url()`, whichever database the run uses.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

OPTION = "--database"
ENV = "FLOWMAESTRO_TEST_DATABASE"
PORT = 5432  # only names the socket file: the socket directory is private to the cluster
DIR_PREFIX = "flowmaestro-pg-"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def find_bindir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: `FLOWMAESTRO_PG_BINDIR` when set (and then only
    there), else `pg_config --bindir`, the Debian layout (/usr/lib/postgresql/<version>/bin,
    newest first), then PATH."""
    candidates: list[str] = []
    if os.environ.get("FLOWMAESTRO_PG_BINDIR"):
        candidates.append(os.environ["FLOWMAESTRO_PG_BINDIR"])
        return _first_with_binaries(candidates)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             timeout=10, check=True).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    return _first_with_binaries(candidates)


def _first_with_binaries(candidates: list[str]) -> Path | None:
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file() and (path / "postgres").is_file():
            return path
    return None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit()) or (0,)


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) the cluster runs as when this process is root; None when it is not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and there is neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Cluster:
    """One PostgreSQL cluster in a temporary directory, owned by this process."""

    def __init__(self, bindir: Path, *, max_connections: int = 100) -> None:
        self.bindir = bindir
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "postgres.log"
        self.user = "postgres"
        self.running = False
        (self.root / "owner.pid").write_text(str(os.getpid()))

    # -- life cycle ------------------------------------------------------------------------
    def _command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        run_as = _run_as()
        extra: dict[str, Any] = {}
        if run_as is not None:
            extra = {"user": run_as[0], "group": run_as[1], "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=self.root, **extra)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}{log}")
        return done

    def start(self) -> Cluster:
        self.socket_dir.mkdir()
        run_as = _run_as()
        if run_as is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, *run_as)
        self._command("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--no-instructions")
        options = " ".join([
            "-c listen_addresses=''", f"-k {self.socket_dir}", f"-p {PORT}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            f"-c max_connections={self.max_connections}", "-c shared_buffers=64MB",
        ])
        self._command("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                      "-o", options)
        self.running = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(Exception):
                self._command("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30",
                              timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- use -------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        """A DATABASE_URL (dj-database-url form) for `dbname`, over the unix socket."""
        return f"postgres://{self.user}@{quote(str(self.socket_dir), safe='')}:{PORT}/{dbname}"

    def connect_params(self, dbname: str = "postgres") -> dict[str, Any]:
        return {"host": str(self.socket_dir), "port": PORT, "user": self.user, "dbname": dbname}

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(**self.connect_params(dbname), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"fm_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def reap_abandoned_clusters() -> None:
    """Stop the clusters of earlier test runs that were killed before they could clean up
    (their owner process is gone), so a shared machine does not collect postmasters."""
    for owner_file in glob.glob(os.path.join(tempfile.gettempdir(), DIR_PREFIX + "*", "owner.pid")):
        root = Path(owner_file).parent
        try:
            owner = int(Path(owner_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        pid_file = root / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGQUIT)
            time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)


# -- the run's cluster ---------------------------------------------------------------------------
_cluster: Cluster | None = None
_unavailable: str | None = None  # why PostgreSQL could not be started (skip reason)


def start_cluster() -> Cluster:
    """This process's cluster, started on first call."""
    global _cluster
    if _cluster is None:
        bindir = find_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) not found: install `postgresql` "
                                    "(apt-get install postgresql) or set FLOWMAESTRO_PG_BINDIR")
        reap_abandoned_clusters()
        _cluster = Cluster(bindir).start()
    return _cluster


def wants_postgres(config: pytest.Config) -> bool:
    value = getattr(config.known_args_namespace, "fm_database", None) or os.environ.get(ENV) or "sqlite"
    return value.strip().lower() in {"postgres", "postgresql", "pg"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, dest="fm_database", choices=["sqlite", "postgres"], default=None,
                     help=f"database the suite runs on (default: ${ENV} or sqlite); postgres starts a "
                          "throw-away cluster from the PostgreSQL binaries")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Before pytest-django imports the settings: start the cluster, point DATABASE_URL at it."""
    global _unavailable
    if getattr(early_config.known_args_namespace, "fm_database", None) == "sqlite":
        # Asked for by name (make pytest-sqlite): not a PostgreSQL server from the environment.
        os.environ.pop("DATABASE_URL", None)
    if not wants_postgres(early_config):
        return
    if early_config.known_args_namespace.help or early_config.known_args_namespace.version:
        return
    try:
        cluster = start_cluster()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        if in_ci():
            raise pytest.UsageError(f"CI=true and PostgreSQL cannot be started: {exc}") from exc
        _unavailable = f"PostgreSQL run skipped: {exc}"
        return
    os.environ["DATABASE_URL"] = cluster.url("flowmaestro")
    os.environ[ENV] = "postgres"  # what subprocesses and `on_postgres()` see


def pytest_report_header(config: pytest.Config) -> str | None:
    if _cluster is not None and wants_postgres(config):
        return f"database: PostgreSQL ({_cluster.bindir}) in {_cluster.root}"
    return "database: SQLite" if not wants_postgres(config) else f"database: none ({_unavailable})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _unavailable is not None and wants_postgres(config):
        skip = pytest.mark.skip(reason=_unavailable)
        for item in items:
            item.add_marker(skip)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cluster is not None:
        # Django's test database (and its connection pool) are gone by now.
        _cluster.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test whose threads kept pool connections (they ended without closing them) would
    starve every later test of connections, and those would fail far from the cause: name
    the test that leaked and give the next one a fresh pool."""
    yield
    if _cluster is None:
        return
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return
    # Read the pool only if one exists: the `pool` property makes one, and a test that used
    # no database (run before Django's test database is set up) would make it with the
    # settings' own database name, which Django's test setup then keeps using.
    pool = type(connection)._connection_pools.get(connection.alias)  # type: ignore[attr-defined]
    if pool is None or pool.closed:
        return
    stats = pool.get_stats()
    in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    if in_use > pool.max_size // 2:
        warnings.warn(f"{item.nodeid} left {in_use} of {pool.max_size} pooled connections checked out "
                      "(a thread used the ORM and never closed its connection: see tests/threads.py); "
                      "the pool is replaced", pytest.PytestWarning, stacklevel=1)
        connection.close_pool()  # type: ignore[attr-defined]  # PostgreSQL backend only, checked above


# -- for tests -----------------------------------------------------------------------------------
def on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def current_database_url() -> str:
    """A DATABASE_URL for the test database this run uses (for daphne and engine
    subprocesses that must share it)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = quote(params.get("USER") or "", safe="")
    password = quote(params.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(str(params.get("HOST") or ""), safe="")
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{params['NAME']}"


@pytest.fixture(scope="session")
def postgres_cluster() -> Cluster:
    """A running PostgreSQL cluster, in the SQLite run too (for tests that need
    PostgreSQL whatever the run's database is). Missing binaries: skip, or fail under CI."""
    try:
        return start_cluster()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        if in_ci():
            pytest.fail(f"CI=true and PostgreSQL cannot be started: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")


@pytest.fixture
def postgres_database(postgres_cluster: Cluster) -> Iterator[Callable[[], str]]:
    """`postgres_database()` → the URL of a new empty database, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        url = postgres_cluster.create_database()
        made.append(url.rsplit("/", 1)[1])
        return url

    yield make
    for name in made:
        with contextlib.suppress(Exception):
            postgres_cluster.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
