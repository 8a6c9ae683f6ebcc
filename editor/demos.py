"""The demo workflows of `editor/demo/` and how they are loaded for a user (by
`manage.py load_demo` and by `POST /api/demo-workflows`, the workflow list's button).

The demos call this server's demo API (`/demo-api/`) over real HTTP through the variable
`apiBase`. The files say `http://127.0.0.1:8000/demo-api`; loading rewrites it to where
this server really is: `FLOWMAESTRO_SITE_URL` when configured (behind a proxy, the public
URL), otherwise the URL the browser used to reach it (the API), otherwise the
`--api-base` given to the command. A demo served on another port therefore still works.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from editor import services
from editor.models import Workflow

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_API_PATH = "/demo-api"
DEFAULT_API_BASE = "http://127.0.0.1:8000" + DEMO_API_PATH


def demo_api_base(request: HttpRequest | None = None) -> str:
    """The demo API's base URL as the engine on this server can reach it."""
    site = (getattr(settings, "FLOWMAESTRO_SITE_URL", "") or "").rstrip("/")
    if site:
        return site + DEMO_API_PATH
    if request is not None:
        return request.build_absolute_uri(DEMO_API_PATH).rstrip("/")
    return DEFAULT_API_BASE


def demo_workflows(api_base: str | None = None) -> list[dict[str, Any]]:
    """The demo documents `{name, description, definition}` in file order, with `apiBase`
    set to `api_base` when given."""
    demos = []
    for path in sorted(DEMO_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if api_base:
            definition = copy.deepcopy(doc["definition"])
            variables = (definition.get("settings") or {}).get("variables") or {}
            if "apiBase" in variables:
                variables["apiBase"] = api_base.rstrip("/")
            doc["definition"] = definition
        demos.append(doc)
    return demos


def load_demos(*, owner: Any, api_base: str | None) -> list[Workflow]:
    """Create each demo for `owner`, or bring the one of the same name up to date (a new
    version only when it changed); other workflows are never touched."""
    loaded = []
    for doc in demo_workflows(api_base):
        name, definition = doc["name"], doc["definition"]
        existing = Workflow.objects.filter(owner=owner, name=name).order_by("id").first()
        if existing is None:
            workflow = services.workflow_create(
                owner=owner, name=name, description=doc.get("description", ""), definition=definition
            )
        else:
            workflow = services.workflow_update(
                workflow=existing, user=owner, description=doc.get("description", ""), definition=definition
            )
        loaded.append(workflow)
    return loaded
