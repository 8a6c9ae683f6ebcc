#!/usr/bin/env python
"""Django's command-line utility for FlowMaestro."""

import os
import sys

# Commands an operator runs against the database: a DATABASE_URL they cannot reach is one
# line at once (flowmaestro.database_check), not a 30 s wait and a traceback.
DATABASE_COMMANDS = {"migrate", "ensure_login", "runengine", "load_demo"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowmaestro.settings")
    from django.core.management import execute_from_command_line

    if len(sys.argv) > 1 and sys.argv[1] in DATABASE_COMMANDS:
        import django

        django.setup()
        from flowmaestro.database_check import refuse_unreachable_database

        refuse_unreachable_database(f"manage.py {sys.argv[1]}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
