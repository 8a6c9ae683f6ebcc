"""The `editor` Django app: workflows, their versions and triggers (shown as "Workflows" in the admin)."""

from django.apps import AppConfig


class EditorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "editor"
    verbose_name = "Workflows"
