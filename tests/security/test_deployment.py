"""Deployment defaults (issue 12): the server refuses the public development key, the
documented production configuration passes `check --deploy`, the TLS switch makes cookies
Secure and sends HSTS, hosts and origins come from configuration, and the API schema is
for logged-in users only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model

from tests.daphne import running_daphne

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = str(Path(sys.executable).with_name("daphne"))
# The README's "Production" configuration (a real deployment also sets DATABASE_URL and
# REDIS_URL, which `check --deploy` does not look at).
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "pr0duction-Key-for-the-test-only-5Jx8qLz2Wv7Nc4Rb9Tm1Hy6Gd3Ks0Pf",
    "DJANGO_ALLOWED_HOSTS": "flows.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://flows.example.com",
    "FLOWMAESTRO_TLS": "1",
}


def clean_env(**overrides: str) -> dict[str, str]:
    """The machine's environment without anything this test run set for itself."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "FLOWMAESTRO_")) and k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "flowmaestro.settings"
    env.update(overrides)
    return env


def settings_in(env: dict[str, str], *names: str) -> dict[str, Any]:
    """The values of `names` in a fresh process's settings under `env`."""
    code = ("import json, django; from django.conf import settings; django.setup(); "
            f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the secret key --------------------------------------------------------------------------


def test_the_server_refuses_to_start_without_a_secret_key_when_debug_is_off():
    done = subprocess.run(
        [DAPHNE, "-b", "127.0.0.1", "-p", "0", "flowmaestro.asgi:application"],
        cwd=ROOT, env=clean_env(DJANGO_DEBUG="0", FLOWMAESTRO_ENGINE_IN_PROCESS="false"),
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "Refusing to start" in done.stderr
    assert "DJANGO_SECRET_KEY" in done.stderr


@pytest.mark.parametrize("key", ["x" * 60, "short-Key-5Jx8qLz2", "django-insecure-" + "k7Qe9vXr2LmZp4Tn8WbYc1Hs6Jd3Fg5A9rTy2"],
                         ids=["one-character", "short", "django-insecure"])
def test_the_server_refuses_to_start_on_a_weak_secret_key(key):
    # `check --deploy` only warns about these (security.W009), and a deployment may never run it.
    done = subprocess.run([sys.executable, "-c", "import flowmaestro.asgi"], cwd=ROOT,
                          env=clean_env(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key, FLOWMAESTRO_ENGINE_IN_PROCESS="false"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak" in done.stderr
    assert key not in done.stderr  # the key itself is never printed


@pytest.mark.parametrize("env", [{"DJANGO_DEBUG": "1"}, {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"]}],
                         ids=["debug", "with-key"])
def test_the_application_loads_with_debug_or_with_a_key(env):
    # `make run` sets DJANGO_DEBUG=1; a deployment sets a key.
    done = subprocess.run([sys.executable, "-c", "import flowmaestro.asgi"], cwd=ROOT,
                          env=clean_env(FLOWMAESTRO_ENGINE_IN_PROCESS="false", **env),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_management_commands_still_run_without_a_key():
    # Only serving needs the key: migrations, tokens and the benchmark work on a laptop as before.
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=clean_env(DJANGO_DEBUG="0"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- check --deploy ----------------------------------------------------------------------------


def test_check_deploy_is_clean_in_the_documented_production_configuration():
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=clean_env(**PRODUCTION_ENV), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_warns_without_tls():
    # The same configuration without the TLS switch is not production-ready, and says so.
    env = clean_env(**{**PRODUCTION_ENV, "FLOWMAESTRO_TLS": "0"})
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


# --- hosts and origins come from configuration ----------------------------------------------------


def test_hosts_and_trusted_origins_come_from_the_environment():
    values = settings_in(clean_env(**PRODUCTION_ENV), "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER")
    assert values == {"ALLOWED_HOSTS": ["flows.example.com"], "CSRF_TRUSTED_ORIGINS": ["https://flows.example.com"],
                      "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}
    # No origin is hard-coded any more (it was http://<host>:8000): same-origin needs none.
    values = settings_in(clean_env(DJANGO_DEBUG="1"), "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")
    assert values == {"ALLOWED_HOSTS": ["localhost", "127.0.0.1"], "CSRF_TRUSTED_ORIGINS": []}
    # With daphne terminating TLS itself, no forwarded header is trusted.
    values = settings_in(clean_env(**PRODUCTION_ENV, FLOWMAESTRO_TLS_PROXY_HEADER=""), "SECURE_PROXY_SSL_HEADER")
    assert values == {"SECURE_PROXY_SSL_HEADER": None}


def test_an_unknown_host_is_refused(client):
    assert client.get("/accounts/login/", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="localhost").status_code == 200


# --- the TLS switch, on a real server -----------------------------------------------------------


def _csrf_from(response: httpx.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert match, response.text[:500]
    return match.group(1)


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name (raw, to read their attributes)."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


@pytest.mark.django_db(transaction=True)
def test_behind_tls_cookies_are_secure_hsts_is_sent_and_http_redirects():
    get_user_model().objects.create_user(username="tess", password="tess-password-1")
    env = {"FLOWMAESTRO_TLS": "1", "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_DEBUG": "0"}
    with running_daphne(env=env) as host, httpx.Client(base_url=f"http://{host}", timeout=10) as http:
        # Plain HTTP (no X-Forwarded-Proto from the proxy): redirected to HTTPS.
        plain = http.get("/accounts/login/")
        assert plain.status_code == 301
        assert plain.headers["location"] == f"https://{host}/accounts/login/"
        # What the TLS-terminating proxy forwards.
        https = {"X-Forwarded-Proto": "https"}
        page = http.get("/accounts/login/", headers=https)
        assert page.status_code == 200
        assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
        csrf_cookie = _set_cookies(page)["csrftoken"]
        assert "; Secure" in csrf_cookie
        token = csrf_cookie.split(";", 1)[0].split("=", 1)[1]
        login = http.post("/accounts/login/", headers={
            **https, "Cookie": f"csrftoken={token}", "Origin": f"https://{host}", "Referer": f"https://{host}/accounts/login/",
        }, data={"username": "tess", "password": "tess-password-1", "csrfmiddlewaretoken": _csrf_from(page)})
        assert login.status_code == 302, login.text[:500]
        session_cookie = _set_cookies(login)["sessionid"]
        assert "; Secure" in session_cookie and "; HttpOnly" in session_cookie


@pytest.mark.django_db(transaction=True)
def test_without_tls_cookies_are_plain_and_no_hsts_is_sent():
    # A laptop on http://127.0.0.1:8000 must keep working: Secure cookies would never come back.
    with running_daphne(env={"DJANGO_DEBUG": "0"}) as host:
        page = httpx.get(f"http://{host}/accounts/login/", timeout=10)
    assert page.status_code == 200
    assert "strict-transport-security" not in page.headers
    assert "Secure" not in _set_cookies(page)["csrftoken"]


# --- the API schema is for logged-in users ---------------------------------------------------


@pytest.mark.parametrize("accept", ["application/vnd.oai.openapi+json", "application/vnd.oai.openapi", "*/*"])
def test_the_api_schema_is_refused_to_anonymous_users_as_json(anon_client, accept):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT=accept)
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")
    assert "credentials were not provided" in response.json()["detail"]


def test_the_api_schema_is_served_to_a_logged_in_user(alice_client):
    response = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/workflows/" in response.json()["paths"]


# --- the Content-Security-Policy header (the pages under it: test_csp.py) -------------------------


@pytest.mark.django_db(transaction=True)
def test_the_policy_is_enforced_in_production_and_only_reported_under_debug():
    with running_daphne(env={"DJANGO_DEBUG": "0"}) as host:
        production = httpx.get(f"http://{host}/accounts/login/", timeout=10)
    with running_daphne(env={"DJANGO_DEBUG": "1"}) as host:  # `make run`
        debugging = httpx.get(f"http://{host}/accounts/login/", timeout=10)
    assert "script-src 'self'" in production.headers["content-security-policy"]
    assert "content-security-policy-report-only" not in production.headers
    # Under DEBUG, Django's own error pages use inline scripts: violations are only reported.
    assert "script-src 'self'" in debugging.headers["content-security-policy-report-only"]
    assert "content-security-policy" not in debugging.headers
    # The nonce in the header is the one on the page's <style> (a fresh one per response).
    nonce = re.search(r"'nonce-([^']+)'", production.headers["content-security-policy"]).group(1)
    assert f'<style nonce="{nonce}">' in production.text
