"""Throttling (issue 12): a burst of wrong passwords locks that username out from that
address (login page and admin) while the right password still works for everyone else;
the API answers a JSON 429 with Retry-After past the configured rates, per user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from tests.daphne import running_daphne

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()  # throttle histories live in the cache
    yield
    cache.clear()


def login(client: Client, path: str, username: str, password: str, address: str = "203.0.113.7") -> object:
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


# --- logins ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_burst_of_wrong_passwords_locks_that_login_out(path, alice, bob, staff):
    victim, victim_password = (staff, "pw-sam") if path.startswith("/admin") else (alice, "pw-alice")
    attacker = Client()
    # The probe: 30 wrong passwords in a row (it sent them within 8 s).
    statuses = [login(attacker, path, victim.username, f"guess-{i}").status_code for i in range(30)]
    # Django's form answers 200 ("didn't match") until the limit (10): the 10th failure
    # locks, and from then on every try is refused.
    assert statuses[:9] == [200] * 9
    assert statuses[9:] == [429] * 21
    refused = login(attacker, path, victim.username, "guess-final")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 15 * 60
    assert b"Too many failed logins. Try again in 15 minutes." in refused.content
    # The right password from the attacker's address is refused too: the lock is what stops guessing.
    assert login(attacker, path, victim.username, victim_password).status_code == 429
    # Everyone else still logs in: another user from that address, the victim from elsewhere.
    other, other_password = (alice, "pw-alice") if victim is staff else (bob, "pw-bob")
    if path.startswith("/admin"):
        other.is_staff = True
        other.save()
    assert login(Client(), path, other.username, other_password).status_code == 302
    assert login(Client(), path, victim.username, victim_password, address="198.51.100.20").status_code == 302


def test_a_successful_login_resets_the_count(alice):
    client = Client()
    for i in range(9):
        assert login(client, "/accounts/login/", "alice", f"guess-{i}").status_code == 200
    assert login(client, "/accounts/login/", "alice", "pw-alice").status_code == 302
    for i in range(9):  # nine more mistakes after a success do not lock her out
        assert login(Client(), "/accounts/login/", "alice", f"typo-{i}").status_code == 200
    assert login(Client(), "/accounts/login/", "alice", "pw-alice").status_code == 302


def test_the_lockout_page_is_the_login_pages_look(alice):
    client = Client()
    for i in range(10):
        login(client, "/accounts/login/", "alice", f"guess-{i}")
    page = login(client, "/accounts/login/", "alice", "again")
    assert page.status_code == 429
    assert page["Content-Type"].startswith("text/html")
    assert b'data-testid="login-locked"' in page.content


def test_a_locked_out_client_asking_for_json_gets_json(alice):
    client = Client()
    for i in range(10):
        login(client, "/accounts/login/", "alice", f"guess-{i}")
    refused = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"},
                          REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many failed logins. Try again in 15 minutes."}
    assert refused["Retry-After"] == "900"


# --- the API -----------------------------------------------------------------------------------


@override_settings(FLOWMAESTRO_THROTTLE_RATES={"anon": "3/minute", "user": "5/minute"})
def test_past_the_user_rate_the_api_answers_json_429_with_retry_after(alice_client, bob_client):
    for _ in range(5):
        assert alice_client.get("/api/workflows").status_code == 200
    throttled = alice_client.get("/api/workflows")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/json"
    assert throttled.json()["detail"].startswith("Request was throttled. Expected available in")
    assert 1 <= int(throttled["Retry-After"]) <= 60
    # Writes count too, and the answer is the same.
    assert alice_client.post("/api/workflows", {"name": "x"}, format="json").status_code == 429
    # Per user: bob is not slowed down by alice.
    assert bob_client.get("/api/workflows").status_code == 200


class _OpenView(APIView):
    """A view open to anonymous users, with the project's default throttles."""

    permission_classes = [AllowAny]

    def get(self, request: object) -> Response:
        return Response({"ok": True})


@override_settings(FLOWMAESTRO_THROTTLE_RATES={"anon": "3/minute", "user": "5/minute"})
def test_anonymous_requests_are_counted_per_address():
    view = _OpenView.as_view()
    factory = APIRequestFactory()
    statuses = [view(factory.get("/open", REMOTE_ADDR="203.0.113.9")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert view(factory.get("/open", REMOTE_ADDR="203.0.113.10")).status_code == 200


def settings_rates(**env: str) -> dict[str, str | None]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FLOWMAESTRO_"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "flowmaestro.settings", **env})
    code = ("import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps(settings.FLOWMAESTRO_THROTTLE_RATES))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_rates_have_generous_defaults_and_come_from_the_environment():
    assert settings_rates() == {"anon": "600/minute", "user": "6000/minute"}
    assert settings_rates(FLOWMAESTRO_THROTTLE_USER="100/second", FLOWMAESTRO_THROTTLE_ANON="off") == {
        "anon": None, "user": "100/second"}


@pytest.mark.django_db(transaction=True)
def test_a_live_server_throttles_by_its_configured_rate(alice):
    token = Token.objects.create(user=alice).key
    with running_daphne(env={"FLOWMAESTRO_THROTTLE_USER": "4/minute"}) as host:
        with httpx.Client(base_url=f"http://{host}", headers={"Authorization": f"Token {token}"}, timeout=10) as http:
            statuses = [http.get("/api/workflows").status_code for _ in range(6)]
            last = http.get("/api/node-types")
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert last.status_code == 429 and last.headers["content-type"] == "application/json"
    assert int(last.headers["retry-after"]) > 0
    assert "throttled" in last.json()["detail"]


def test_login_logs_older_than_the_configured_days_are_pruned(alice, client, settings):
    """Every login writes an axes log row; housekeeping keeps FLOWMAESTRO_LOGIN_LOG_DAYS of them."""
    from datetime import timedelta

    from axes.models import AccessFailureLog, AccessLog
    from django.utils import timezone

    from engine.housekeeping import default_jobs
    from flowmaestro.throttling import prune_login_logs

    settings.FLOWMAESTRO_LOGIN_LOG_DAYS = 30
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
        assert client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"}).status_code == 302
    assert AccessLog.objects.count() == 3
    assert AccessFailureLog.objects.count() == 0  # axes' failure log is off; the lockout counts are not logs
    old = timezone.now() - timedelta(days=31)
    AccessLog.objects.filter(pk__in=list(AccessLog.objects.order_by("pk").values_list("pk", flat=True)[:2])).update(
        attempt_time=old)
    assert prune_login_logs() == 2
    assert AccessLog.objects.count() == 1
    assert "login-logs" in {job.name for job in default_jobs()}
