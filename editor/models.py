"""Workflows and their immutable versions.

A workflow's `definition` is the latest saved SPEC §3 JSON; every save that changes it
appends a `WorkflowVersion`. Executions point at a version, so editing a workflow never
changes a run that has already started.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from engine.fields import ReadableJSONField


class Workflow(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    definition = ReadableJSONField(default=dict)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Retention of this workflow's finished executions; None follows the global settings
    # (FLOWMAESTRO_RETENTION_DAYS / _KEEP_LAST), 0 keeps them for good.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    retention_keep_last = models.PositiveIntegerField(null=True, blank=True)

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
    definition = ReadableJSONField()
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


class WebhookAuth(models.TextChoices):
    # The secret in the URL is the credential (like n8n's production webhook URLs).
    TOKEN = "token"
    # The URL's token names the webhook; the sender also signs with a shared secret
    # (`X-FlowMaestro-Signature: sha256=<hex HMAC>`, the GitHub/Stripe convention), so a
    # leaked URL alone cannot start runs. What is signed is `<X-FlowMaestro-Timestamp>.<raw
    # body>` (Stripe/Slack), or the raw body alone for webhooks that do not require the
    # timestamp (those made before it existed): editor.webhook_signing.
    HMAC = "hmac"


class Webhook(models.Model):
    """A URL that starts a run of its workflow with the request body as input, no login."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200, blank=True, default="")
    token = models.CharField(max_length=64, unique=True)
    auth = models.CharField(max_length=8, choices=WebhookAuth.choices, default=WebhookAuth.TOKEN)
    hmac_secret = models.CharField(max_length=128, blank=True, default="")
    # HMAC webhooks only: the signature must cover a fresh X-FlowMaestro-Timestamp, and each
    # signed call is accepted once. Webhooks made before the timestamp existed were set to
    # False by migration 0005, so their senders' body-only signatures keep working.
    require_timestamp = models.BooleanField(
        default=True, verbose_name="require a signed timestamp",
        help_text="HMAC webhooks: the sender signs '<X-FlowMaestro-Timestamp>.<raw body>' and each signed call "
                  "starts at most one run (replays and timestamps older or newer than the tolerance are refused). "
                  "Off: a signature of the raw body alone is also accepted, and can be replayed.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_called_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook {self.name or self.pk} of {self.workflow.name}"


class WebhookSignatureSeen(models.Model):
    """The replay cache of timestamped HMAC calls: one row per accepted signature of a
    webhook. The unique constraint makes "at most once" exact across processes on SQLite
    and PostgreSQL alike (the second insert of a pair waits for the first's transaction,
    then fails); a row is useless once its timestamp is outside the tolerance (the
    timestamp alone is refused then), so rows are deleted after `expires_at`."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=64)  # lower-case hex of the HMAC-SHA256
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "signature"], name="unique_webhook_signature")]

    def __str__(self) -> str:
        return f"signature {self.signature[:8]}… of webhook {self.webhook_id}"


class CatchUp(models.TextChoices):
    # What a schedule does about occurrences that fell while no engine process was running.
    SKIP = "skip"  # none of them: wait for the next occurrence
    LATEST = "latest"  # one run for all of them (Airflow's catchup=False, n8n's behaviour)
    ALL = "all"  # one run per missed occurrence, at most FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX


class Schedule(models.Model):
    """Runs its workflow at the occurrences of a cron expression in a time zone."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=200, blank=True, default="")
    cron = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    input = ReadableJSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    catch_up = models.CharField(max_length=8, choices=CatchUp.choices, default=CatchUp.LATEST)
    # The next occurrence not yet started. Engines claim a due schedule by moving this
    # forward with a compare-and-set update, so each occurrence starts exactly one run
    # however many engine processes look at the same moment.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_execution_id = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"schedule {self.name or self.cron} of {self.workflow.name}"


class PinnedOutput(models.Model):
    """A node's pinned test data (n8n's "pin data"): in a run started from the editor with
    `usePinnedData`, this node does not run and outputs `data` at once. Kept outside the
    definition on purpose: definitions are strictly validated and versions immutable, while
    pins change at every click of the person building the workflow, and production triggers
    (webhooks, schedules) must never see them. The pins in force are copied onto the
    execution when it is recorded (engine.services.execution_start)."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="pinned_outputs")
    node_id = models.CharField(max_length=100)
    data = ReadableJSONField(null=True, blank=True)
    # Bytes of `data` as JSON, measured once on write: the list and the run's snapshot
    # check the bounds without encoding every pin again.
    size = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["node_id"]
        constraints = [models.UniqueConstraint(fields=["workflow", "node_id"], name="unique_pinned_output")]

    def __str__(self) -> str:
        return f"pinned output of {self.node_id} in {self.workflow.name}"
