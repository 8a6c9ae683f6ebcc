"""Schemathesis fuzzes every route of the OpenAPI schema that drf-spectacular serves, as a
logged-in user with data of her own, against a real daphne (issue 12): no generated input —
valid or not, for every parameter, body and header the schema describes, plus the
malformed ones schemathesis adds — gets a 500 or a non-JSON answer from the API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.daphne import running_daphne

# Examples per operation and mode: ~45 operations x 2 modes x 6 stays within about a minute
# or two on a 2-core machine. Raise it locally for a deeper run (FLOWMAESTRO_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("FLOWMAESTRO_FUZZ_EXAMPLES", "6"))

DEFINITION: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "Fuzzed",
    "settings": {"queue": {"deadLetterQueue": True}},
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 250, "y": 0}, "config": {"duration": 10}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "wait"}],
}


@pytest.fixture
def fuzz_server(transactional_db: None) -> Iterator[tuple[str, str]]:
    """A daphne over the test database (no engine: runs stay queued), a user with a token,
    a workflow and an execution of hers (so that some generated ids hit real rows)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from editor.services import workflow_create
    from engine.models import Execution

    # Committed (transactional_db), so the server sees these rows.
    user = get_user_model().objects.create_user(username="fuzzer", password="fuzzer-password-1")
    token = Token.objects.create(user=user).key
    workflow = workflow_create(owner=user, name="Fuzzed", description="", definition=DEFINITION)
    # Recorded directly (not through the service, which would wake an engine in this
    # process): a queued run that the server's signals and reads can work on.
    Execution.objects.create(workflow=workflow, version=workflow.current_version(), owner=user,
                             status="queued", input={"x": 1}, trace_id="trace-fuzz01")
    with running_daphne() as host:
        yield f"http://{host}", token


def _check(case: Any, base_url: str, token: str) -> None:
    response = case.call(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30)
    assert response.status_code < 500, f"{response.status_code} {response.text[:300]}"
    if response.content:  # a 204 has no body
        content_type = (response.headers.get("content-type") or [""])[0]  # lower-case keys, list values
        assert content_type.startswith("application/json"), f"{response.status_code} {content_type} {response.text[:300]}"


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_input_gets_a_500(fuzz_server: tuple[str, str], mode: GenerationMode) -> None:
    """Every operation, with inputs that fit the schema (positive) and inputs that break it
    (negative); all failures are collected, one line per operation, with a curl to replay."""
    base_url, token = fuzz_server
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json",
                                           headers={"Authorization": f"Token {token}"})
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        seen: list[Any] = []

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            seen.append(case)  # noqa: B023 - run right here, in this iteration
            _check(case, base_url, token)

        try:
            fuzz()
        except Unsatisfiable:
            continue  # nothing to break in this mode (e.g. no parameter that can be made invalid)
        except AssertionError as exc:
            case = seen[-1]
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}\n    "
                            f"{case.as_curl_command(headers={'Authorization': 'Token …'})}")
    assert operations >= 30, operations  # the whole API was fuzzed, not an empty schema
    assert not failures, "\n".join(failures)


# -- what the fuzzer found (kept as plain regression tests) ------------------------------------


def test_ids_past_the_64_bit_key_range_are_a_400_not_a_500(alice_client, make_workflow):
    # Found by the fuzzer: SQLite refuses such a number ("Python int too large"), which was a 500.
    response = alice_client.post("/api/dead-letters/replay", {"ids": [2**70], "version": "latest"}, format="json")
    assert response.status_code == 400, response.content
    assert "ids" in str(response.json())
    workflow = make_workflow()
    response = alice_client.post(f"/api/workflows/{workflow.pk}/test-expression",
                                 {"code": "1", "execution": 2**70, "nodeId": "greet"}, format="json")
    assert response.status_code == 400, response.content
