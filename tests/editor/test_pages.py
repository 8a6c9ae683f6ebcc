"""Editor pages and the `{% vite_entry %}` tag (the server side of the front end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import Client, override_settings

from editor.models import Workflow
from editor.templatetags import vite

pytestmark = pytest.mark.django_db


def _render(entry: str) -> str:
    return Template('{% load vite %}{% vite_entry "' + entry + '" %}').render(Context())


def test_vite_entry_emits_module_script_css_and_preloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = {
        "_shared.js": {"file": "assets/shared.js", "css": ["assets/shared.css"]},
        "src/entries/editor.tsx": {
            "file": "assets/editor.js",
            "name": "editor",
            "isEntry": True,
            "imports": ["_shared.js"],
            "css": ["assets/editor.css"],
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setattr(vite, "manifest_path", lambda: path)
    vite.reset_cache()
    html = _render("editor")
    vite.reset_cache()
    assert '<script type="module" src="/static/dist/assets/editor.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/dist/assets/editor.css">' in html
    assert '<link rel="stylesheet" href="/static/dist/assets/shared.css">' in html
    assert '<link rel="modulepreload" href="/static/dist/assets/shared.js">' in html


def test_vite_entry_without_a_build_says_how_to_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vite, "manifest_path", lambda: tmp_path / "missing.json")
    vite.reset_cache()
    with override_settings(DEBUG=True):
        html = _render("editor")
    # A server started by hand (a deployment) is told the build command, not `make run`,
    # which would start a development server.
    assert "<!--" in html and "front end not built: run npm ci &amp;&amp; npm run build (make run and make cluster do)" in html


def test_pages_need_login_and_hide_other_users_workflows() -> None:
    users = get_user_model().objects
    alice = users.create_user("alice", password="pw")
    bob = users.create_user("bob", password="pw")
    workflow = Workflow.objects.create(owner=alice, name="Mine", definition={})
    client = Client()
    assert client.get("/workflows/").status_code == 302
    client.force_login(bob)
    assert client.get(f"/workflows/{workflow.pk}/").status_code == 404
    client.force_login(alice)
    page = client.get(f"/workflows/{workflow.pk}/")
    assert page.status_code == 200
    assert f'data-workflow-id="{workflow.pk}"' in page.content.decode()
    assert client.get("/").status_code == 302
    assert "csrftoken" in client.get("/workflows/").cookies


@pytest.mark.parametrize("typed", ["/login", "/login/"])
def test_login_where_people_type_it_leads_to_the_login_page(typed: str) -> None:
    # Before: a 404 page. n8n, Airflow and most apps log in at /login.
    response = Client().get(typed + "?next=/workflows/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/workflows/"
    assert response.status_code == 200 and b'name="password"' in response.content
