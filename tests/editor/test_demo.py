"""The demo: the small demo API, `load_demo`, `ensure_login`, and every demo workflow run
end to end by the real engine against the demo API over real HTTP."""

from __future__ import annotations

import asyncio
import io
import re
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient, Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editor.management.commands.load_demo import demo_workflows
from editor.models import Workflow, WorkflowVersion
from engine.core.graph import validate_definition

DEMO_NAMES = [
    "Fan-out / fan-in",
    "Parallel with fallback",
    "Parallel validation",
    "Custom merge",
    "Parallel loop — enrich users",
]


# --- the demo API ------------------------------------------------------------------------------


def test_demo_users_need_no_login() -> None:
    users = Client().get("/demo-api/users").json()
    assert len(users) == 10
    assert set(users[0]) == {"id", "name", "email"}
    assert Client().get("/demo-api/users/").status_code == 200


def test_demo_profile_latency_and_failures() -> None:
    client = Client()
    began = time.monotonic()
    response = client.get("/demo-api/users/3/profile?latency=150")
    assert time.monotonic() - began >= 0.14
    assert response.status_code == 200
    profile = response.json()
    assert (profile["id"], profile["name"]) == (3, "Grace Hopper")
    assert {"email", "city", "team"} <= set(profile)

    response = client.get("/demo-api/users/3/profile?latency=0&failRate=1")
    assert response.status_code == 503
    assert response.json()["detail"]
    assert client.get("/demo-api/users/99/profile?latency=0").status_code == 404
    for bad in ("latency=abc", "latency=-5", "failRate=2", "failRate=nan"):
        response = client.get(f"/demo-api/users/1/profile?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["detail"]


def test_demo_slow_and_echo() -> None:
    client = Client()
    slept = client.get("/demo-api/slow?ms=20&source=test").json()
    assert slept == {"sleptMs": 20, "source": "test"} and isinstance(slept["sleptMs"], int)
    payload = {"order": 7, "items": [1, 2]}
    response = client.post("/demo-api/echo", payload, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == payload
    assert client.post("/demo-api/echo/", "{not json", content_type="application/json").status_code == 400
    assert client.get("/demo-api/echo").status_code == 405


async def test_demo_api_serves_slow_requests_concurrently() -> None:
    # The demos only look parallel if the demo API itself does not serialise requests.
    client = AsyncClient()
    began = time.monotonic()
    responses = await asyncio.gather(*(client.get(f"/demo-api/users/{i}/profile?latency=600") for i in range(1, 6)))
    elapsed = time.monotonic() - began
    assert [r.status_code for r in responses] == [200] * 5
    # Against the sequential sum (3 s): together they take ~0.6 s; half the sum leaves a
    # loaded machine 0.9 s of overhead and still fails if requests ran one at a time.
    assert elapsed < 5 * 0.6 / 2, f"5 × 600 ms took {elapsed:.2f} s"


# --- demo files, load_demo, ensure_login ------------------------------------------------------------


@pytest.mark.django_db
def test_every_demo_definition_is_valid_and_laid_out() -> None:
    demos = demo_workflows()
    assert [d["name"] for d in demos] == DEMO_NAMES
    for demo in demos:
        report = validate_definition(demo["definition"])
        assert report.errors == [], (demo["name"], report.errors)
        assert report.warnings == [], (demo["name"], report.warnings)
        top_level = [n for n in demo["definition"]["nodes"] if "parentId" not in n]
        positions = {(n["position"]["x"], n["position"]["y"]) for n in top_level}
        assert len(positions) == len(top_level), f"{demo['name']}: nodes on top of each other"


def test_custom_merge_uses_the_seed_expression_verbatim() -> None:
    demo = next(d for d in demo_workflows() if d["name"] == "Custom merge")
    combine = next(n for n in demo["definition"]["nodes"] if n["id"] == "combine")
    assert combine["config"]["operation"] == "custom"
    assert "totalUsers: branch_a.count + branch_b.count," in combine["config"]["expression"]
    assert "allEmails: [...branch_a.emails, ...branch_b.emails]," in combine["config"]["expression"]


def test_loop_demo_is_the_spec_example() -> None:
    demo = next(d for d in demo_workflows() if d["name"] == "Parallel loop — enrich users")
    definition = demo["definition"]
    assert definition["settings"]["variables"] == {"apiBase": "http://127.0.0.1:8000/demo-api"}
    loop = next(n for n in definition["nodes"] if n["id"] == "loop")
    assert loop["config"] == {
        "loopType": "forEach", "arrayPath": "{{users.body}}", "parallel": True,
        "maxConcurrency": 10, "itemVariable": "user", "outputVariable": "results",
    }
    assert next(n for n in definition["nodes"] if n["id"] == "enrich")["parentId"] == "loop"


@pytest.mark.django_db
def test_load_demo_is_idempotent(alice: Any) -> None:
    out = io.StringIO()
    call_command("load_demo", "--user", "alice", stdout=out)
    assert sorted(Workflow.objects.filter(owner=alice).values_list("name", flat=True)) == sorted(DEMO_NAMES)
    assert out.getvalue().count("created") == 5
    versions = WorkflowVersion.objects.count()

    out = io.StringIO()
    call_command("load_demo", "--user", "alice", stdout=out)
    assert Workflow.objects.filter(owner=alice).count() == 5
    assert WorkflowVersion.objects.count() == versions
    assert out.getvalue().count("unchanged") == 5


@pytest.mark.django_db
def test_load_demo_for_a_missing_user_fails_clearly() -> None:
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("load_demo", "--user", "nobody", stdout=io.StringIO())


@pytest.mark.django_db
def test_ensure_login_creates_admin_with_token_and_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWMAESTRO_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("ensure_login", stdout=out)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("admin")
    token = Token.objects.get(user=admin).key
    printed = out.getvalue()
    assert "http://127.0.0.1:8000/" in printed and "admin" in printed and token in printed

    # Idempotent: same user, same token.
    out = io.StringIO()
    call_command("ensure_login", stdout=out)
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert token in out.getvalue()
    # Through the login form, as a user does (django-axes needs the request it counts).
    login = Client().post("/accounts/login/", {"username": "admin", "password": "admin"})
    assert login.status_code == 302 and login.url == "/workflows/"


@pytest.mark.django_db
def test_ensure_login_takes_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWMAESTRO_ADMIN_PASSWORD", "s3cret-pass")
    out = io.StringIO()
    call_command("ensure_login", stdout=out)
    assert get_user_model().objects.get(username="admin").check_password("s3cret-pass")
    assert "s3cret-pass" in out.getvalue()


# --- the demo workflows, run for real ---------------------------------------------------------------


@pytest.fixture
def demo_client(alice: Any, alice_client: APIClient, live_server: Any, settings: Any) -> APIClient:
    """alice's client, with the demos loaded against this test's live server (loopback
    HTTP allowed, as `make run` allows it)."""
    settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE = True
    call_command("load_demo", "--user", "alice", "--api-base", f"{live_server.url}/demo-api", stdout=io.StringIO())
    return alice_client


def run_demo(client: APIClient, name: str, wait: Any, input: dict[str, Any] | None = None) -> dict[str, Any]:
    workflow = Workflow.objects.get(name=name)
    response = client.post(f"/api/workflows/{workflow.pk}/run", {"input": input or {}}, format="json")
    assert response.status_code == 201, response.content
    body = wait(client, response.json()["id"], timeout=60)
    assert body["status"] == "succeeded", body
    return body


def run_window(body: dict[str, Any], node_ids: set[str]) -> list[tuple[str, str]]:
    return [(r["startedAt"], r["finishedAt"]) for r in body["nodeRuns"] if r["nodeId"] in node_ids]


@pytest.mark.django_db(transaction=True)
def test_fan_out_fan_in_demo_runs_its_branches_at_once(demo_client: APIClient, wait_for_execution: Any) -> None:
    body = run_demo(demo_client, "Fan-out / fan-in", wait_for_execution)
    output = body["output"]["Output"]
    assert output["ada"]["name"] == "Ada Lovelace"
    assert output["grace"]["name"] == "Grace Hopper"
    assert output["report"]["source"] == "report"
    branches = {r["nodeId"]: r for r in body["nodeRuns"] if r["type"] == "http"}
    assert {r["branchName"] for r in branches.values()} == {"ada", "grace", "report"}
    # Overlapping: every call started before any of them finished.
    windows = run_window(body, set(branches))
    assert max(start for start, _ in windows) < min(end for _, end in windows)


@pytest.mark.django_db(transaction=True)
def test_parallel_with_fallback_demo_uses_the_first_success(
    demo_client: APIClient, wait_for_execution: Any
) -> None:
    body = run_demo(demo_client, "Parallel with fallback", wait_for_execution)
    assert body["output"]["Output"]["source"] in {"primary", "backup"}


@pytest.mark.django_db(transaction=True)
def test_parallel_validation_demo_accepts_and_rejects(demo_client: APIClient, wait_for_execution: Any) -> None:
    body = run_demo(demo_client, "Parallel validation", wait_for_execution)
    assert body["output"]["Process Order"]["status"] == "accepted"
    assert body["output"]["Process Order"]["total"] == 318
    assert "Reject Order" not in body["output"]

    bad_order = {
        "id": "B-2", "items": [{"sku": "MS-2", "qty": 1, "price": 20}],
        "payment": {"method": "card"}, "shipping": {"country": "NL"},
    }
    body = run_demo(demo_client, "Parallel validation", wait_for_execution, input=bad_order)
    rejected = body["output"]["Reject Order"]
    assert rejected["status"] == "rejected"
    assert rejected["checks"]["inventory"] == {"passed": False, "missing": ["MS-2"]}


@pytest.mark.django_db(transaction=True)
def test_custom_merge_demo_combines_both_branches(demo_client: APIClient, wait_for_execution: Any) -> None:
    body = run_demo(demo_client, "Custom merge", wait_for_execution)
    combined = body["output"]["Output"]
    assert combined["totalUsers"] == 10
    assert len(combined["allEmails"]) == 10
    assert isinstance(combined["merged"], int | float)


@pytest.mark.django_db(transaction=True)
def test_parallel_loop_demo_enriches_every_user(demo_client: APIClient, wait_for_execution: Any) -> None:
    body = run_demo(demo_client, "Parallel loop — enrich users", wait_for_execution)
    results = body["output"]["Collect Results"]
    assert len(results) == 10
    assert [r["body"]["id"] for r in results] == list(range(1, 11))
    enrich = [r for r in body["nodeRuns"] if r["nodeId"] == "enrich" and r["status"] == "succeeded"]
    assert sorted(r["iteration"] for r in enrich) == list(range(10))
    # Ten 100 ms calls, ten at a time: they overlap.
    windows = run_window(body, {"enrich"})
    assert max(start for start, _ in windows) < max(end for _, end in windows)
    assert sum(1 for start, _ in windows if start < min(end for _, end in windows)) >= 5


@pytest.mark.django_db
def test_ensure_login_for_a_cluster_makes_a_random_password_and_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make cluster` (no DEBUG, a database others may share) creates no admin/admin."""
    monkeypatch.delenv("FLOWMAESTRO_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("ensure_login", "--random-password", stdout=out)
    admin = get_user_model().objects.get(username="admin")
    assert not admin.check_password("admin")
    printed = re.search(r"Password: (\S+)", out.getvalue())
    assert printed is not None and len(printed.group(1)) >= 12
    login = Client().post("/accounts/login/", {"username": "admin", "password": printed.group(1)})
    assert login.status_code == 302 and login.url == "/workflows/"
