"""`python manage.py docs`: write docs/node-types.md from the node schemas (`--check`: exit
non-zero when the file differs, for CI)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.docs import NODE_TYPES_DOC, current_node_types_doc


class Command(BaseCommand):
    help = "Write docs/node-types.md from the node types' schemas (the ones GET /api/node-types serves)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="only check that the file is up to date")

    def handle(self, *args: Any, **options: Any) -> None:
        text = current_node_types_doc()
        old = NODE_TYPES_DOC.read_text(encoding="utf-8") if NODE_TYPES_DOC.exists() else ""
        if options["check"]:
            if old != text:
                raise CommandError(f"{NODE_TYPES_DOC} is stale: run `python manage.py docs`")
            self.stdout.write(f"{NODE_TYPES_DOC} is up to date")
            return
        NODE_TYPES_DOC.parent.mkdir(parents=True, exist_ok=True)
        NODE_TYPES_DOC.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {NODE_TYPES_DOC} ({'changed' if old != text else 'unchanged'})")
