"""Throttling (issue 12): a burst of wrong passwords locks that username out from that
address (login page and admin) while the right password still works for everyone else;
the API answers a JSON 429 with Retry-After past the configured rates, per user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    assert settings_rates() == {"anon": "600/minute", "user": "6000/minute", "hook_owner": "1200/minute"}
    assert settings_rates(FLOWMAESTRO_THROTTLE_USER="100/second", FLOWMAESTRO_THROTTLE_ANON="off",
                          FLOWMAESTRO_THROTTLE_HOOK_OWNER="50/second") == {
        "anon": None, "user": "100/second", "hook_owner": "50/second"}


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


# --- the count: a sliding window of buckets, exact across processes ----------------------------


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@override_settings(FLOWMAESTRO_THROTTLE_RATES={"anon": "10/minute", "user": None})
def test_the_window_slides_and_retry_after_is_when_room_comes_back(monkeypatch):
    """10/minute: five requests at t=0 and five at t=30. At t=61 the first five have left the
    last minute, so five more pass and the next is refused until the t=30 ones leave too,
    which `Retry-After` says; following it, the request passes."""
    from flowmaestro.throttling import AnonThrottle

    clock = _Clock(6000.0)  # on a bucket edge (a minute's buckets are 6 s wide)
    monkeypatch.setattr(AnonThrottle, "timer", staticmethod(clock))
    view = _OpenView.as_view()
    factory = APIRequestFactory()

    def ask() -> Any:
        return view(factory.get("/open", REMOTE_ADDR="198.51.100.4"))

    assert [ask().status_code for _ in range(5)] == [200] * 5
    clock.now += 30
    assert [ask().status_code for _ in range(5)] == [200] * 5
    refused = ask()
    assert refused.status_code == 429 and 25 <= int(refused["Retry-After"]) <= 30
    clock.now += 31  # t=61
    assert [ask().status_code for _ in range(5)] == [200] * 5
    refused = ask()
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 29  # the t=30 requests leave the window at t=90
    clock.now += 29
    assert ask().status_code == 200


@override_settings(FLOWMAESTRO_THROTTLE_RATES={"anon": "3/minute", "user": None})
def test_refused_requests_do_not_count(monkeypatch):
    """A client that keeps asking while refused gets in again once its window has room."""
    from flowmaestro.throttling import AnonThrottle

    clock = _Clock(1200.0)
    monkeypatch.setattr(AnonThrottle, "timer", staticmethod(clock))
    view = _OpenView.as_view()
    factory = APIRequestFactory()
    statuses = [view(factory.get("/open", REMOTE_ADDR="198.51.100.5")).status_code for _ in range(20)]
    assert statuses == [200] * 3 + [429] * 17
    clock.now += 60
    assert view(factory.get("/open", REMOTE_ADDR="198.51.100.5")).status_code == 200


@override_settings(FLOWMAESTRO_THROTTLE_RATES={"anon": "3/minute", "user": None})
def test_four_hundred_clients_of_one_process_each_keep_their_count():
    """Without Redis the counts live in the process's cache, which must not cull them: at
    Django's default of 300 entries a busy server forgot clients' counts at random and let
    them through again."""
    view = _OpenView.as_view()
    factory = APIRequestFactory()
    addresses = [f"198.51.{100 + i // 200}.{i % 200 + 1}" for i in range(400)]
    for address in addresses:
        assert [view(factory.get("/open", REMOTE_ADDR=address)).status_code for _ in range(3)] == [200] * 3
    fourth = [view(factory.get("/open", REMOTE_ADDR=address)).status_code for address in addresses]
    assert fourth == [429] * 400


@pytest.mark.parametrize("on_redis", [False, True], ids=["one-process", "redis"])
def test_a_request_stamped_before_a_bucket_edge_and_counted_after_one_past_it_is_refused(
    on_redis, settings, monkeypatch
):
    """Two servers whose clocks differ by half a second, or one request held up between
    reading the time and reaching the count (a loaded machine), at a bucket edge: the one
    stamped past the edge is counted first, then the one stamped before it. Both saw room
    before (each window left out the other's bucket) and the rate was exceeded by one;
    `test_two_servers_sharing_redis_let_through_exactly_the_rate` did so now and then."""
    from contextlib import ExitStack

    from flowmaestro.throttling import AnonThrottle
    from tests.redis import running_redis

    with ExitStack() as stack:
        if on_redis:
            url = stack.enter_context(running_redis())
            settings.CACHES = {"default": {"BACKEND": "flowmaestro.cache.RedisCache", "LOCATION": url}}
        settings.FLOWMAESTRO_THROTTLE_RATES = {"anon": "10/minute", "user": None}
        clock = _Clock(6005.0)  # a minute's buckets are 6 s wide: this one ends at 6006
        monkeypatch.setattr(AnonThrottle, "timer", staticmethod(clock))
        view = _OpenView.as_view()
        factory = APIRequestFactory()

        def ask(at: float) -> Any:
            clock.now = at
            return view(factory.get("/open", REMOTE_ADDR="198.51.100.6"))

        assert [ask(6005.0).status_code for _ in range(9)] == [200] * 9
        assert ask(6006.2).status_code == 200  # the tenth, on the server whose clock is ahead
        late = ask(6005.7)  # stamped before the edge, counted after the tenth
        assert late.status_code == 429
        assert int(late["Retry-After"]) == 55  # the nine of 6005.0 leave the window at 6060
        assert ask(6060.0).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_servers_sharing_redis_let_through_exactly_the_rate(alice):
    """Two daphne processes with one Redis (the scale-out deployment), 12 clients at once:
    exactly the rate gets through, not more (a count that two processes read, change and
    write back loses requests). What Redis keeps per client is a few integers, not a list of
    request times that grows with the rate."""
    import redis as redis_py

    from tests.redis import running_redis

    token = Token.objects.create(user=alice).key
    with running_redis() as redis_url:
        env = {"REDIS_URL": redis_url, "FLOWMAESTRO_THROTTLE_USER": "40/minute"}
        with running_daphne(env=env) as one, running_daphne(env=env) as two:
            def ask(i: int) -> int:
                host = (one, two)[i % 2]
                with httpx.Client(base_url=f"http://{host}", timeout=30,
                                  headers={"Authorization": f"Token {token}"}) as http:
                    return sum(http.get("/api/node-types").status_code == 200 for _ in range(10))

            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(12) as pool:
                passed = sum(pool.map(ask, range(12)))
        stored = redis_py.Redis.from_url(redis_url)
        values = [stored.get(k) for k in stored.keys("*throttle*")]
        stored.close()
    assert passed == 40
    assert values and all(v is not None and v.isdigit() for v in values)


def test_on_redis_each_request_is_one_round_trip_and_builds_no_redis_client(settings, monkeypatch):
    """With Redis as the cache (the scale-out deployment): one round trip per request.
    Before, DRF's proxy of the cache hid the Redis backend from the throttle, which took the
    one-process path instead (SET NX, INCR, MGET: three round trips), and Django's cache
    built a new `redis.Redis` (its ~170 response callbacks) for each of them."""
    import redis

    from tests.redis import running_redis

    with running_redis() as url:
        settings.CACHES = {"default": {"BACKEND": "flowmaestro.cache.RedisCache", "LOCATION": url}}
        settings.FLOWMAESTRO_THROTTLE_RATES = {"anon": "15/minute", "user": None}
        server = redis.Redis.from_url(url)
        server.config_resetstat()
        built = []
        original = redis.Redis.__init__

        def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
            built.append(1)
            original(self, *args, **kwargs)

        monkeypatch.setattr(redis.Redis, "__init__", counting_init)
        view = _OpenView.as_view()
        factory = APIRequestFactory()
        statuses = [view(factory.get("/open", REMOTE_ADDR="198.51.100.77")).status_code for _ in range(20)]
        monkeypatch.undo()
        stats = server.info("commandstats")
        server.close()
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    assert statuses == [200] * 15 + [429] * 5
    # One script per request (EVALSHA: the window's MGET, then INCR and EXPIRE when it has
    # room; the first is refused by this new server, which then loads it). A refused request
    # is not counted, so never taken back out. No SET NX: that was the one-process path.
    assert calls.get("evalsha") == 20 + 1 and calls.get("script|load") == 1, calls
    assert (calls.get("mget"), calls.get("incr"), calls.get("incrby"), calls.get("set")) == (20, 15, None, None), calls
    assert len(built) <= 1, f"{len(built)} Redis clients built for 20 requests"
