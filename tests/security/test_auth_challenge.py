"""A request without valid credentials is a 401 with a `WWW-Authenticate` challenge.

Probed: `Authorization: Token <bad>` and a request with no credentials at all answered
403. DRF answers 401 only when its first authentication class names a challenge; the
session's names none, so it came first and every refusal was a 403, which tells a script
"you may not" when it should hear "who are you?". Token authentication now comes first
(challenge `Token`); a logged-in session that forgets its CSRF token is still DRF's 403."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_challenge(response: Any, detail: str) -> None:
    assert response.status_code == 401, (response.status_code, response.content)
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("path", ["/api/workflows", "/api/executions", "/api/node-types", "/api/dead-letters",
                                  "/api/workflows/1", "/api/schema/"])
def test_no_credentials_and_a_bad_token_are_401_with_a_challenge(anon_client, path):
    assert_challenge(anon_client.get(path), "Authentication credentials were not provided.")
    anon_client.credentials(HTTP_AUTHORIZATION="Token " + "x" * 40)
    assert_challenge(anon_client.get(path), "Invalid token.")


def test_a_bad_token_on_a_write_and_an_inactive_users_token_are_401(alice, make_workflow):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert_challenge(client.post(f"/api/workflows/{make_workflow().pk}/run", {}, format="json"), "Invalid token.")
    token = Token.objects.create(user=alice)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/workflows").status_code == 200
    alice.is_active = False
    alice.save()
    assert_challenge(client.get("/api/workflows"), "User inactive or deleted.")


def test_a_session_without_its_csrf_token_is_still_403_and_with_it_works(alice, make_workflow):
    workflow = make_workflow()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/workflows").status_code == 200  # a read needs no CSRF token
    refused = client.post(f"/api/workflows/{workflow.pk}/run", data="{}", content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert "WWW-Authenticate" not in refused
    client.get("/workflows/")  # the page sets the csrftoken cookie, as in the browser
    token = client.cookies["csrftoken"].value
    started = client.post(f"/api/workflows/{workflow.pk}/run", data="{}", content_type="application/json",
                          HTTP_X_CSRFTOKEN=token)
    assert started.status_code == 201, started.content
