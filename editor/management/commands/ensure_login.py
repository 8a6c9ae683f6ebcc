"""`manage.py ensure_login`: make sure a superuser `admin` with an API token exists and
print how to log in (SPEC §2: `make run` prints the login).

The password is `admin` unless FLOWMAESTRO_ADMIN_PASSWORD says otherwise; an existing
user keeps the password it has unless the variable is set (so a changed password is not
reset on every `make run`). With `--random-password` (`make cluster`: no DEBUG, a database
others may share) a user it creates gets a random password instead of `admin`.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from rest_framework.authtoken.models import Token

DEFAULT_PASSWORD = "admin"


class Command(BaseCommand):
    help = "Create (if missing) the superuser `admin` and its API token, and print the login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the app is served")
        parser.add_argument("--random-password", action="store_true",
                            help="a user created now gets a random password (printed once), not `admin`")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        env_password = os.environ.get("FLOWMAESTRO_ADMIN_PASSWORD") or None
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        password: str | None
        if user is None:
            password = env_password or (secrets.token_urlsafe(12) if options["random_password"] else DEFAULT_PASSWORD)
            user = user_model.objects.create_superuser(username=username, email="", password=password)
            state = "created"
        else:
            state = "exists"
            if env_password is not None:
                user.set_password(env_password)
            if not (user.is_staff and user.is_superuser and user.is_active):
                user.is_staff = user.is_superuser = user.is_active = True
            user.save()
            password = env_password or (DEFAULT_PASSWORD if user.check_password(DEFAULT_PASSWORD) else None)
        token, _ = Token.objects.get_or_create(user=user)
        url = options["url"].rstrip("/") + "/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"FlowMaestro login ({state}):"))
        self.stdout.write(f"  URL:      {url}")
        self.stdout.write(f"  Admin:    {url}admin/")
        self.stdout.write(f"  User:     {username}")
        self.stdout.write(f"  Password: {password if password else '(unchanged; set FLOWMAESTRO_ADMIN_PASSWORD to reset)'}")
        self.stdout.write(f"  Token:    {token.key}   (Authorization: Token {token.key})")
        self.stdout.write("")
