"""The workflow API (SPEC §7) as a client sees it: CRUD, versions, validation, bad input,
and other users' workflows being invisible."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from editor.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


def create(client: APIClient, definition: dict[str, Any], name: str = "Greeting", **extra: Any) -> Any:
    return client.post("/api/workflows", {"name": name, "definition": definition, **extra}, format="json")


# --- create, read, list ---------------------------------------------------------------


def test_create_returns_camelcase_workflow_at_version_1(alice_client: APIClient, simple_definition: dict) -> None:
    response = create(alice_client, simple_definition, description="says hello")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "description", "definition", "version", "createdAt", "updatedAt"}
    assert body["name"] == "Greeting"
    assert body["description"] == "says hello"
    assert body["definition"] == simple_definition
    assert body["version"] == 1
    workflow = Workflow.objects.get(pk=body["id"])
    assert list(workflow.versions.values_list("number", flat=True)) == [1]


def test_get_and_list_with_and_without_trailing_slash(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow(name="Mine")
    for path in (f"/api/workflows/{workflow.pk}", f"/api/workflows/{workflow.pk}/"):
        response = alice_client.get(path)
        assert response.status_code == 200
        assert response.json()["name"] == "Mine"
    for path in ("/api/workflows", "/api/workflows/"):
        response = alice_client.get(path)
        assert response.status_code == 200
        assert [w["name"] for w in response.json()] == ["Mine"]


def test_post_with_trailing_slash_is_not_redirected(alice_client: APIClient, simple_definition: dict) -> None:
    response = alice_client.post("/api/workflows/", {"name": "x", "definition": simple_definition}, format="json")
    assert response.status_code == 201


def test_list_is_newest_first(alice_client: APIClient, make_workflow: Any) -> None:
    make_workflow(name="old")
    make_workflow(name="new")
    assert [w["name"] for w in alice_client.get("/api/workflows").json()] == ["new", "old"]


def test_a_token_is_the_user_it_belongs_to_until_it_is_deleted_or_the_user_deactivated(
    alice: Any, bob: Any, make_workflow: Any
) -> None:
    from rest_framework.authtoken.models import Token

    make_workflow(name="alice's")
    token = Token.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert [w["name"] for w in client.get("/api/workflows").json()] == ["alice's"]
    bob_client = APIClient()
    bob_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    assert bob_client.get("/api/workflows").json() == []  # bob's token is bob

    alice.is_active = False
    alice.save()
    # 401 with DRF's challenge (token authentication comes first; tests/security/test_auth_challenge.py).
    refused = client.get("/api/workflows")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert refused.json() == {"detail": "User inactive or deleted."}
    alice.is_active = True
    alice.save()
    assert client.get("/api/workflows").status_code == 200
    token.delete()
    refused = client.get("/api/workflows")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token."}
    client.credentials(HTTP_AUTHORIZATION="Token " + "x" * 40)
    assert client.get("/api/workflows").json() == {"detail": "Invalid token."}


def test_anonymous_requests_are_refused_with_json(anon_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    for path in ("/api/workflows", f"/api/workflows/{workflow.pk}", "/api/executions", "/api/node-types"):
        response = anon_client.get(path)
        assert response.status_code in (401, 403)
        assert "detail" in response.json()


def test_session_auth_works_too(alice: Any, make_workflow: Any) -> None:
    make_workflow(name="Mine")
    client = APIClient()
    client.force_login(alice)
    assert [w["name"] for w in client.get("/api/workflows").json()] == ["Mine"]


# --- update and versions --------------------------------------------------------------


def test_changing_the_definition_creates_a_new_version(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    definition = copy.deepcopy(workflow.definition)
    definition["nodes"][2]["config"]["value"] = "changed"
    response = alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": definition}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["definition"]["nodes"][2]["config"]["value"] == "changed"

    versions = alice_client.get(f"/api/workflows/{workflow.pk}/versions").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert {"number", "createdAt", "definition"} <= set(versions[0])
    assert versions[0]["definition"]["nodes"][2]["config"]["value"] == "changed"
    assert versions[1]["definition"]["nodes"][2]["config"]["value"] == "{{start.who}}"
    assert versions[0]["createdBy"] == "alice"


def test_saving_the_same_definition_creates_no_version(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    response = alice_client.put(
        f"/api/workflows/{workflow.pk}",
        {"name": "Renamed", "description": "new words", "definition": workflow.definition},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 1
    assert body["name"] == "Renamed"
    assert body["description"] == "new words"
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1


def test_patch_name_only_keeps_definition_and_description(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow(description="keep me")
    response = alice_client.patch(f"/api/workflows/{workflow.pk}/", {"name": "Only name"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["version"]) == ("Only name", "keep me", 1)


def test_put_requires_name_and_definition(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    response = alice_client.put(f"/api/workflows/{workflow.pk}", {"name": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and "definition" in body["errors"]


def test_version_detail_and_restore(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    original = copy.deepcopy(workflow.definition)
    edited = copy.deepcopy(original)
    edited["nodes"][2]["config"]["value"] = "v2"
    alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": edited}, format="json")

    response = alice_client.get(f"/api/workflows/{workflow.pk}/versions/1/")
    assert response.status_code == 200
    assert response.json()["definition"] == original
    assert response.json()["number"] == 1

    response = alice_client.post(f"/api/workflows/{workflow.pk}/versions/1/restore")
    assert response.status_code == 200, response.content
    body = response.json()
    # Restoring appends a version with the old definition: history is never rewritten.
    assert body["version"] == 3
    assert body["definition"] == original
    numbers = [v["number"] for v in alice_client.get(f"/api/workflows/{workflow.pk}/versions").json()]
    assert numbers == [3, 2, 1]
    assert alice_client.get(f"/api/workflows/{workflow.pk}/versions/2").json()["definition"] == edited


def test_unknown_version_is_404(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    for response in (
        alice_client.get(f"/api/workflows/{workflow.pk}/versions/7"),
        alice_client.post(f"/api/workflows/{workflow.pk}/versions/7/restore"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"]


def test_versions_are_immutable(make_workflow: Any) -> None:
    version = make_workflow().versions.get()
    version.definition = {"tampered": True}
    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_duplicate_copies_the_definition_with_a_fresh_history(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow(name="Original", description="d")
    edited = copy.deepcopy(workflow.definition)
    edited["nodes"][2]["config"]["value"] = "v2"
    alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": edited}, format="json")

    response = alice_client.post(f"/api/workflows/{workflow.pk}/duplicate/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != workflow.pk
    assert body["name"] == "Original (copy)"
    assert body["definition"] == {**edited, "name": "Original (copy)"}  # one name: the copy's
    assert body["version"] == 1
    assert len(alice_client.get("/api/workflows").json()) == 2


def test_delete(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    assert alice_client.delete(f"/api/workflows/{workflow.pk}").status_code == 204
    assert alice_client.get(f"/api/workflows/{workflow.pk}").status_code == 404
    assert not WorkflowVersion.objects.filter(workflow_id=workflow.pk).exists()


# --- validation ---------------------------------------------------------------------------


def test_invalid_definition_is_400_naming_the_node(alice_client: APIClient, simple_definition: dict) -> None:
    simple_definition["nodes"][1]["type"] = "teleport"
    response = create(alice_client, simple_definition)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid workflow definition."
    assert any(e.get("nodeId") == "greet" and "teleport" in e["message"] for e in body["errors"]), body
    assert not Workflow.objects.exists()


def test_dangling_edge_is_400_naming_the_edge(alice_client: APIClient, simple_definition: dict) -> None:
    simple_definition["edges"].append({"id": "e-bad", "source": "done", "target": "nowhere"})
    body = create(alice_client, simple_definition).json()
    assert any(e.get("edgeId") == "e-bad" for e in body["errors"]), body


def test_cycle_error_names_the_path(alice_client: APIClient, simple_definition: dict) -> None:
    simple_definition["edges"].append({"id": "back", "source": "done", "target": "greet"})
    response = create(alice_client, simple_definition)
    assert response.status_code == 400
    messages = [e["message"] for e in response.json()["errors"]]
    cycle = [m for m in messages if "cycle" in m]
    assert cycle, messages
    assert "greet" in cycle[0] and "done" in cycle[0]


def test_invalid_config_is_400_naming_the_node(alice_client: APIClient, simple_definition: dict) -> None:
    simple_definition["nodes"][1]["config"] = {"values": "not an object"}
    body = create(alice_client, simple_definition).json()
    assert any(e.get("nodeId") == "greet" for e in body["errors"]), body


def test_invalid_update_keeps_the_saved_workflow(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    broken = copy.deepcopy(workflow.definition)
    broken["nodes"].append({"id": "start", "type": "start", "name": "Again", "position": {"x": 0, "y": 0}})
    response = alice_client.patch(f"/api/workflows/{workflow.pk}", {"definition": broken}, format="json")
    assert response.status_code == 400
    assert any(e.get("nodeId") == "start" for e in response.json()["errors"])
    workflow.refresh_from_db()
    assert workflow.version == 1 and len(workflow.definition["nodes"]) == 3


def test_validate_saved_and_unsaved_definitions(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    response = alice_client.post(f"/api/workflows/{workflow.pk}/validate")
    assert response.status_code == 200
    assert response.json() == {"errors": [], "warnings": []}

    draft = copy.deepcopy(workflow.definition)
    draft["nodes"][2]["config"]["value"] = "{{nosuchnode.body}}"
    draft["edges"].append({"id": "loose", "source": "done", "target": "ghost"})
    body = alice_client.post(f"/api/workflows/{workflow.pk}/validate/", {"definition": draft}, format="json").json()
    assert any(e.get("edgeId") == "loose" for e in body["errors"])
    # Validating never saves.
    workflow.refresh_from_db()
    assert workflow.version == 1

    draft["edges"].pop()
    body = alice_client.post(f"/api/workflows/{workflow.pk}/validate", {"definition": draft}, format="json").json()
    assert body["errors"] == []
    assert any(w.get("nodeId") == "done" and "nosuchnode" in w["message"] for w in body["warnings"]), body


# --- bad input is always a JSON 4xx ---------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "definition": []},
        {"name": "x", "definition": "nodes"},
        {"name": "x", "definition": None},
        {"name": "", "definition": {}},
        {"name": ["x"], "definition": {}},
        {"name": "x"},
        {"definition": {}},
        {"name": "x" * 201, "definition": {}},
    ],
)
def test_wrong_types_are_400_json(alice_client: APIClient, payload: dict) -> None:
    response = alice_client.post("/api/workflows", payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_definition_with_no_nodes_list_is_400(alice_client: APIClient) -> None:
    response = alice_client.post("/api/workflows", {"name": "x", "definition": {"nodes": 3}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]


def test_malformed_json_is_400(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    for method, path in (
        ("post", "/api/workflows"),
        ("patch", f"/api/workflows/{workflow.pk}"),
        ("post", f"/api/workflows/{workflow.pk}/validate"),
        ("post", f"/api/workflows/{workflow.pk}/run"),
    ):
        response = getattr(alice_client, method)(path, data='{"name": "x",', content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        assert "detail" in response.json()


def test_body_that_is_a_list_is_400(alice_client: APIClient) -> None:
    response = alice_client.post("/api/workflows", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_non_json_content_type_is_415(alice_client: APIClient) -> None:
    response = alice_client.post("/api/workflows", data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/workflows/abc",
        "/api/workflows/abc/versions",
        "/api/workflows/1.5",
        "/api/workflows/99999999999999999999999",
        "/api/workflows/9223372036854775808",
        "/api/workflows/0",
        "/api/workflows/424242",
        "/api/nothing-here",
        "/api/executions/xyz",
    ],
)
def test_unknown_or_non_integer_ids_are_json_404(alice_client: APIClient, path: str) -> None:
    response = alice_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_wrong_method_is_405_json(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    response = alice_client.delete(f"/api/workflows/{workflow.pk}/versions")
    assert response.status_code == 405
    assert response.json()["detail"]


# --- other users --------------------------------------------------------------------------


def test_other_users_workflows_are_404_everywhere(bob_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    wid = workflow.pk
    definition = copy.deepcopy(workflow.definition)
    calls = [
        ("get", f"/api/workflows/{wid}", None),
        ("put", f"/api/workflows/{wid}", {"name": "mine now", "definition": definition}),
        ("patch", f"/api/workflows/{wid}", {"name": "mine now"}),
        ("delete", f"/api/workflows/{wid}", None),
        ("get", f"/api/workflows/{wid}/versions", None),
        ("get", f"/api/workflows/{wid}/versions/1", None),
        ("post", f"/api/workflows/{wid}/versions/1/restore", None),
        ("post", f"/api/workflows/{wid}/duplicate", None),
        ("post", f"/api/workflows/{wid}/validate", None),
        ("post", f"/api/workflows/{wid}/run", {"input": {}}),
    ]
    for method, path, data in calls:
        response = getattr(bob_client, method)(path, data, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert bob_client.get("/api/workflows").json() == []
    workflow.refresh_from_db()
    assert workflow.name == "Greeting"


def test_staff_see_every_workflow(staff_client: APIClient, make_workflow: Any, bob: Any) -> None:
    make_workflow(name="alice's")
    make_workflow(owner=bob, name="bob's")
    names = sorted(w["name"] for w in staff_client.get("/api/workflows").json())
    assert names == ["alice's", "bob's"]


def test_duplicate_of_someone_elses_workflow_by_staff_belongs_to_staff(
    staff_client: APIClient, staff: Any, make_workflow: Any
) -> None:
    workflow = make_workflow()
    body = staff_client.post(f"/api/workflows/{workflow.pk}/duplicate").json()
    assert Workflow.objects.get(pk=body["id"]).owner == staff


# --- schema and node types --------------------------------------------------------------


def test_openapi_schema_generates(alice_client: APIClient) -> None:
    response = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for expected in (
        "/api/workflows",
        "/api/workflows/{workflow_id}",
        "/api/workflows/{workflow_id}/run",
        "/api/executions/{execution_id}/signal",
        "/api/node-types",
    ):
        assert any(p.rstrip("/") == expected for p in paths), (expected, sorted(paths))


def test_openapi_schema_has_no_generation_warnings() -> None:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)


def test_an_unexpected_error_is_a_json_500_not_a_page(
    alice: Any, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from editor import selectors

    def explode(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "workflow_list", explode)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.get("/api/workflows")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Server error."}


def test_a_workflow_with_live_executions_cannot_be_deleted(alice_client: APIClient, make_workflow: Any) -> None:
    workflow = make_workflow()
    execution_id = alice_client.post(f"/api/workflows/{workflow.pk}/run", {"input": {}}, format="json").json()["id"]
    response = alice_client.delete(f"/api/workflows/{workflow.pk}")
    assert response.status_code == 409
    assert "cancel" in response.json()["detail"]
    alice_client.post(f"/api/executions/{execution_id}/signal", {"type": "cancel"}, format="json")
    assert alice_client.delete(f"/api/workflows/{workflow.pk}/").status_code == 204
    assert alice_client.get(f"/api/executions/{execution_id}").status_code == 404


@pytest.mark.parametrize("path", ["/api/workflows//run", "/api/nothing-here"])
def test_a_post_to_an_unknown_api_path_is_a_json_404_even_without_csrf(path: str, alice: Any) -> None:
    """What `curl -X POST …/api/workflows//run` (an empty id) meets: never Django's HTML CSRF page."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_a_session_write_without_its_csrf_token_is_json_403(alice: Any, make_workflow: Any) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(f"/api/workflows/{make_workflow().pk}/run", data="{}", content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "CSRF" in response.json()["detail"]
