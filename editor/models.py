"""Workflows and their immutable versions.

A workflow's `definition` is the latest saved SPEC §3 JSON; every save that changes it
appends a `WorkflowVersion`. Executions point at a version, so editing a workflow never
changes a run that has already started.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Workflow(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def current_version(self) -> WorkflowVersion | None:
        return self.versions.filter(number=self.version).first()


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_workflow_version")]

    def __str__(self) -> str:
        return f"{self.workflow.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Versions are immutable: a run pinned to one must always see the same graph.
        if self.pk is not None and WorkflowVersion.objects.filter(pk=self.pk).exists():
            raise ValueError("workflow versions are immutable")
        super().save(*args, **kwargs)
