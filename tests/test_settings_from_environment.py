"""Settings read from the environment: a value the process cannot use stops it at start
with the variable's name and what it takes. Before, a number written wrong ended in a bare
"could not convert string to float: 'fast'" (which variable?), and a yes/no setting written
wrong (FLOWMAESTRO_HTTP_ALLOW_PRIVATE=ture) was silently read as "no"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWMAESTRO_", "DJANGO_"))}
    code = "import django; django.setup(); from django.conf import settings; print('ok')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "flowmaestro.settings", **env})


@pytest.mark.parametrize(("name", "value", "says"), [
    ("FLOWMAESTRO_POLL_INTERVAL", "fast", "FLOWMAESTRO_POLL_INTERVAL must be a number (such as 0.5), not 'fast'"),
    ("FLOWMAESTRO_STALE_AFTER", "nan", "FLOWMAESTRO_STALE_AFTER must be a number (such as 0.5), not 'nan'"),
    ("FLOWMAESTRO_WEBHOOK_WAIT_MAX", "1_0", "FLOWMAESTRO_WEBHOOK_WAIT_MAX must be a number (such as 0.5), not '1_0'"),
    ("FLOWMAESTRO_MAX_WORKERS", "lots", "FLOWMAESTRO_MAX_WORKERS must be a whole number, not 'lots'"),
    ("FLOWMAESTRO_WEBHOOK_TOLERANCE", "3601", "FLOWMAESTRO_WEBHOOK_TOLERANCE must be 3600 (seconds) or less, not 3601"),
    ("FLOWMAESTRO_WEBHOOK_TOLERANCE", "0", "FLOWMAESTRO_WEBHOOK_TOLERANCE must be 1 or more, not 0"),
    ("FLOWMAESTRO_HTTP_ALLOW_PRIVATE", "ture",
     "FLOWMAESTRO_HTTP_ALLOW_PRIVATE must be true or false (1/0, yes/no, on/off), not 'ture'"),
    ("FLOWMAESTRO_DB_PGBOUNCER", "yes", "FLOWMAESTRO_DB_PGBOUNCER must be session or transaction, not 'yes'"),
    ("FLOWMAESTRO_SANDBOX_HEAP_CEILING_MB", "lots", "FLOWMAESTRO_SANDBOX_HEAP_CEILING_MB must be a whole number, not 'lots'"),
    ("FLOWMAESTRO_TRACE_EXPORT_INTERVAL", "0", "FLOWMAESTRO_TRACE_EXPORT_INTERVAL must be between 0.1 and 3600 seconds"),
    ("DJANGO_EMAIL_PORT", "70000", "DJANGO_EMAIL_PORT must be a port number (1-65535), not 70000"),
    ("DJANGO_EMAIL_TIMEOUT", "0", "DJANGO_EMAIL_TIMEOUT must be between 0.1 and 600 seconds, not 0.0"),
    ("DJANGO_EMAIL_USE_SSL", "maybe", "DJANGO_EMAIL_USE_SSL must be true or false (1/0, yes/no, on/off), not 'maybe'"),
])
def test_a_setting_written_wrong_stops_the_process_naming_it(name: str, value: str, says: str) -> None:
    env = {name: value}
    if name == "FLOWMAESTRO_DB_PGBOUNCER":
        env["DATABASE_URL"] = "postgres://u:p@127.0.0.1:5/db"  # only read for PostgreSQL
    result = import_settings(**env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"django.core.exceptions.ImproperlyConfigured: {says}", result.stderr[-2000:]


def test_settings_written_right_are_read() -> None:
    result = import_settings(FLOWMAESTRO_POLL_INTERVAL=" 0.25 ", FLOWMAESTRO_HTTP_ALLOW_PRIVATE="Yes",
                             FLOWMAESTRO_MAX_WORKERS="12")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
