"""`manage.py load_demo [--user NAME] [--api-base URL]`: load the demo workflows of
`editor/demo/` for a user, idempotently by name. Without `--api-base` the demos call
`FLOWMAESTRO_SITE_URL`/demo-api when that is set, else http://127.0.0.1:8000/demo-api
(the workflow list's "Load demo workflows" button uses the URL the browser used).

A demo workflow that already exists is brought up to date through the same service as
the API (so a changed demo appends a version, an unchanged one appends nothing); the
user's own workflows with other names are never touched.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from editor import services
from editor.demos import DEMO_DIR, demo_api_base, demo_workflows
from editor.models import Workflow

# Re-exported: tests and older callers import them from here.
__all__ = ["DEMO_DIR", "demo_workflows", "Command"]


class Command(BaseCommand):
    help = "Load the demo workflows (fan-out/fan-in, fallback, validation, custom merge, parallel loop) for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="admin", help="owner of the demo workflows (default: admin)")
        parser.add_argument(
            "--api-base",
            default=None,
            help="base URL of the demo API, e.g. http://127.0.0.1:8000/demo-api "
            "(default: FLOWMAESTRO_SITE_URL/demo-api, else http://127.0.0.1:8000/demo-api)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        try:
            owner = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}; create it first (e.g. `manage.py ensure_login`).") from None
        for doc in demo_workflows(options["api_base"] or demo_api_base()):
            name, definition = doc["name"], doc["definition"]
            existing = Workflow.objects.filter(owner=owner, name=name).order_by("id").first()
            try:
                if existing is None:
                    workflow = services.workflow_create(
                        owner=owner, name=name, description=doc.get("description", ""), definition=definition
                    )
                    verb = "created"
                else:
                    before = existing.version
                    workflow = services.workflow_update(
                        workflow=existing, user=owner, description=doc.get("description", ""), definition=definition
                    )
                    verb = "updated" if workflow.version != before else "unchanged"
            except services.InvalidDefinition as exc:
                raise CommandError(f"Demo {name!r} is invalid: {exc.errors}") from exc
            self.stdout.write(f"{verb:9} {name} (id {workflow.pk}, v{workflow.version})")
