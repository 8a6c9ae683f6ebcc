"""compose.yaml read as Docker Compose reads it (no container runtime here): the app's
services start only once the schema exists, and they run the commands of `make cluster`'s
Procfile with the settings queue mode needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def test_web_and_workers_start_after_the_migrations_finished() -> None:
    services = _services()
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    # migrate itself waits for PostgreSQL to accept connections.
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_the_app_services_run_what_the_procfile_runs_in_queue_mode() -> None:
    services = _services()
    procfile = (ROOT / "Procfile").read_text()
    for name in ("migrate", "web", "worker"):
        env = services[name]["environment"]
        assert env["FLOWMAESTRO_EXECUTOR"] == "celery" and env["REDIS_URL"].startswith("redis://"), name
        assert env["DATABASE_URL"].startswith("postgres://"), name
        # Allowed hosts are also the websockets' allowed origins: never "*" (any page's).
        assert "*" not in env["DJANGO_ALLOWED_HOSTS"], name
    assert " ".join(services["worker"]["command"]).startswith("celery -A flowmaestro worker -Q executions,nodes")
    assert "celery -A flowmaestro worker -Q executions,nodes" in procfile
    web = " ".join(services["web"]["command"])
    assert web.startswith("daphne ") and web.endswith("flowmaestro.asgi:application")
    assert "--ping-interval 10 --ping-timeout 20" in web and "--ping-interval 10 --ping-timeout 20" in procfile
