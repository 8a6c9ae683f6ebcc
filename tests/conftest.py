"""Shared fixtures: named users (alice owns, bob is another user who must see nothing of
alice's, sam is staff), API clients authenticated with DRF tokens, and a factory that
creates workflows through the service, the same way the API does."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editor.models import Workflow
from editor.services import workflow_create

# Chromium and the daphne server of the browser tests, shared by every folder that has some
# (tests/browser, tests/security/test_csp.py).
pytest_plugins = ["tests.browser.fixtures"]

FINISHED_STATUSES = {"succeeded", "failed", "cancelled", "timed_out"}

# start → set → output: valid with core node types only, runs in milliseconds.
SIMPLE_DEFINITION: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "Greeting",
    "settings": {"maxConcurrency": 4},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {
            "id": "greet",
            "type": "set",
            "name": "Greet",
            "position": {"x": 250, "y": 0},
            "config": {"values": {"greeting": "hello {{input.who}}"}},
        },
        {
            "id": "done",
            "type": "output",
            "name": "Done",
            "position": {"x": 500, "y": 0},
            "config": {"value": "{{start.who}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "greet"},
        {"id": "e2", "source": "greet", "target": "done"},
    ],
}


def create_webhook(client: APIClient, workflow_id: int, **body: Any) -> dict[str, Any]:
    """Add a webhook to a workflow through the API (201 expected); its JSON."""
    response = client.post(f"/api/workflows/{workflow_id}/webhooks", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _user(username: str, **extra: Any) -> AbstractUser:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)
    return user  # type: ignore[return-value]


@pytest.fixture
def alice(db: None) -> AbstractUser:
    return _user("alice", email="alice@example.com")


@pytest.fixture
def bob(db: None) -> AbstractUser:
    return _user("bob", email="bob@example.com")


@pytest.fixture
def owner(alice: AbstractUser) -> AbstractUser:
    """The user who owns the workflows of a test that needs only one (alice)."""
    return alice


@pytest.fixture
def staff(db: None) -> AbstractUser:
    return _user("sam", email="sam@example.com", is_staff=True)


@pytest.fixture
def client_for(db: None) -> Callable[[AbstractUser | None], APIClient]:
    """An API client that authenticates as `user` with a DRF token (None: anonymous)."""

    def make(user: AbstractUser | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def alice_client(alice: AbstractUser, client_for: Callable[[AbstractUser | None], APIClient]) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob: AbstractUser, client_for: Callable[[AbstractUser | None], APIClient]) -> APIClient:
    return client_for(bob)


@pytest.fixture
def staff_client(staff: AbstractUser, client_for: Callable[[AbstractUser | None], APIClient]) -> APIClient:
    return client_for(staff)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def simple_definition() -> dict[str, Any]:
    return copy.deepcopy(SIMPLE_DEFINITION)


@pytest.fixture
def make_workflow(alice: AbstractUser) -> Callable[..., Workflow]:
    """`make_workflow(owner=alice, name=..., description=..., definition=SIMPLE_DEFINITION)`."""

    def make(
        *,
        owner: AbstractUser | None = None,
        name: str = "Greeting",
        description: str = "",
        definition: dict[str, Any] | None = None,
    ) -> Workflow:
        return workflow_create(
            owner=owner or alice,
            name=name,
            description=description,
            definition=copy.deepcopy(definition if definition is not None else SIMPLE_DEFINITION),
        )

    return make


@pytest.fixture
def wait_for_execution() -> Callable[..., dict[str, Any]]:
    """Poll `GET /api/executions/{id}` until its status is one of `statuses` (default: any
    finished status) and return the body; fail with the last body seen on timeout."""

    def wait(
        client: APIClient, execution_id: int, statuses: set[str] | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        wanted = statuses or FINISHED_STATUSES
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = client.get(f"/api/executions/{execution_id}")
            assert response.status_code == 200, response.content
            body = response.json()
            if body["status"] in wanted:
                return body
            time.sleep(0.05)
        raise AssertionError(f"execution {execution_id} never reached {sorted(wanted)}; last seen: {body}")

    return wait


@pytest.fixture(autouse=True)
def _stop_in_process_engine(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    """A test that woke the in-process engine stops it afterwards, so that its threads do
    not run on into the next test's (flushed) database."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        # Set the database up before this fixture so that it is torn down (flushed) after
        # the engine has stopped.
        request.getfixturevalue("transactional_db")
    yield
    from engine import runtime

    if runtime.get_engine() is not None:
        with django_db_blocker.unblock():
            runtime.stop_engine()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last. Their session fixtures keep Playwright's asyncio loop on the
    main thread (which breaks async tests and `async_to_sync` afterwards) and a daphne
    server whose engine polls the test database (which would claim other tests' runs)."""
    # Among them, those with their own server go first: the shared daphne is started by
    # the first test that needs it and would otherwise take over their executions while
    # their server restarts.
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None,
                                 item.get_closest_marker("own_server") is None))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Django deletes the SQLite test database's file, not the WAL and shared-memory files
    beside it (~20 MB after a full run) while a server's connection still holds them: without
    this, every run left a pair in the project folder."""
    from pathlib import Path

    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return
    name = Path(str(database.get("TEST", {}).get("NAME") or ""))
    if not name.name or name.exists():
        return  # kept on purpose (--reuse-db) or never made
    for suffix in ("-wal", "-shm", "-journal"):
        name.with_name(name.name + suffix).unlink(missing_ok=True)
