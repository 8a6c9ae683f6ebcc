"""Admin for workflows: the live definition is editable through the same service as the
API (so a change still appends a version), the version history is read-only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from editor import services, triggers
from editor.models import PinnedOutput, Schedule, Webhook, WebhookAuth, Workflow, WorkflowVersion
from engine.core import json_bounds
from flowmaestro import json_parser
from flowmaestro.admin_lookups import ModelAdmin


def bounded_json(value: Any, what: str) -> Any:
    """An admin form's JSON as the API would take it: Django's form field reads `NaN` and
    `1e999` (which the database then refuses: a 500) and any depth."""
    try:
        return json_bounds.storable(value, max_depth=json_parser.max_depth(), what=what)
    except json_bounds.JSONBoundsError as exc:
        raise forms.ValidationError(str(exc)) from None


def pretty_json(value: Any) -> str:
    return format_html(
        '<pre style="max-height:24em;overflow:auto;white-space:pre-wrap">{}</pre>',
        json.dumps(value, indent=2, sort_keys=False),
    )


class WorkflowVersionInline(admin.TabularInline[WorkflowVersion, Workflow]):
    model = WorkflowVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ("number", "created_at", "created_by", "node_count")
    ordering = ["-number"]

    @admin.display(description="nodes")
    def node_count(self, version: WorkflowVersion) -> int:
        nodes = (version.definition or {}).get("nodes") if isinstance(version.definition, dict) else None
        return len(nodes) if isinstance(nodes, list) else 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WorkflowAdminForm(forms.ModelForm[Workflow]):
    class Meta:
        model = Workflow
        fields = ["owner", "name", "description", "definition", "retention_days", "retention_keep_last"]

    def clean_definition(self) -> Any:
        definition = bounded_json(self.cleaned_data["definition"], "the definition")
        report = services.workflow_validate(definition=definition)
        if report.errors:
            raise forms.ValidationError(
                [f"{e.get('nodeId') or e.get('edgeId') or 'workflow'}: {e['message']}" for e in report.errors]
            )
        return definition

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        owner, bound = data.get("owner"), settings.FLOWMAESTRO_MAX_WORKFLOWS_PER_USER
        if self.instance.pk is None and owner is not None and owner.workflows.count() >= bound:
            raise forms.ValidationError(f"{owner} already has {bound} workflows, the most one user can keep "
                                        "(FLOWMAESTRO_MAX_WORKFLOWS_PER_USER).")
        return data


@admin.register(Workflow)
class WorkflowAdmin(ModelAdmin[Workflow]):
    form = WorkflowAdminForm
    list_display = ["id", "name", "owner", "version", "updated_at", "created_at"]
    list_filter = ["owner"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["version", "created_at", "updated_at"]
    inlines = [WorkflowVersionInline]
    list_select_related = ["owner"]

    def save_model(self, request: HttpRequest, obj: Workflow, form: Any, change: bool) -> None:
        # Through the services, so that an edited definition appends a version.
        data = form.cleaned_data
        if not change:
            created = services.workflow_create(
                owner=data["owner"], name=data["name"], description=data.get("description", ""),
                definition=data["definition"],
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        if "owner" in form.changed_data:
            Workflow.objects.filter(pk=obj.pk).update(owner=data["owner"])
        Workflow.objects.filter(pk=obj.pk).update(
            retention_days=data.get("retention_days"), retention_keep_last=data.get("retention_keep_last")
        )
        try:
            services.workflow_update(
                workflow=obj, user=request.user, name=data["name"], description=data.get("description", ""),  # type: ignore[arg-type]
                definition=data["definition"],
            )
        except services.InvalidDefinition as exc:  # the form has validated; a race is all that is left
            self.message_user(request, f"Not saved: {exc.errors}", level=messages.ERROR)
        except services.StorageLimit as exc:
            self.message_user(request, f"Not saved: {exc.message}", level=messages.ERROR)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ModelAdmin[WorkflowVersion]):
    list_display = ["workflow", "number", "created_at", "created_by"]
    list_filter = ["workflow"]
    search_fields = ["workflow__name"]
    fields = readonly_fields = ("workflow", "number", "created_at", "created_by", "definition_pretty")
    list_select_related = ["workflow", "created_by"]

    @admin.display(description="definition")
    def definition_pretty(self, version: WorkflowVersion) -> str:
        return pretty_json(version.definition)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkflowVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WorkflowVersion | None = None) -> bool:
        return False


class ScheduleAdminForm(forms.ModelForm[Schedule]):
    class Meta:
        model = Schedule
        fields = ["workflow", "name", "cron", "timezone", "input", "enabled", "catch_up"]

    def clean_input(self) -> Any:
        value = bounded_json(self.cleaned_data.get("input"), "the input")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("the input must be a JSON object, as a run's is")  # as the API
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if data.get("cron"):
                data["cron"] = triggers.cron_check(data["cron"])
            if data.get("timezone"):
                triggers.next_occurrence(data.get("cron") or "* * * * *", data["timezone"], timezone_now())
        except triggers.InvalidTrigger as exc:
            raise forms.ValidationError(exc.message) from None
        return data


def timezone_now() -> Any:
    from django.utils import timezone

    return timezone.now()


@admin.register(Schedule)
class ScheduleAdmin(ModelAdmin[Schedule]):
    form = ScheduleAdminForm
    list_display = ["id", "workflow", "name", "cron", "timezone", "enabled", "catch_up", "next_run_at",
                    "last_run_at", "last_execution_id", "last_error"]
    list_filter = ["enabled", "catch_up"]
    search_fields = ["workflow__name", "name", "cron"]
    readonly_fields = ["next_run_at", "last_run_at", "last_execution_id", "last_error", "created_at"]
    list_select_related = ["workflow"]

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        triggers.schedule_save(schedule=obj)  # validates and sets the next occurrence


class WebhookAdminForm(forms.ModelForm[Webhook]):
    class Meta:
        model = Webhook
        fields = ["workflow", "name", "auth", "require_timestamp", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        auth = data.get("auth") or self.instance.auth  # read-only once the webhook exists
        if data.get("require_timestamp") and auth != WebhookAuth.HMAC:
            # As the API answers: a token webhook signs nothing, so the box would only mislead.
            raise forms.ValidationError("only an hmac webhook signs a timestamp: untick "
                                        "'require timestamp' or choose hmac")
        return data


@admin.register(Webhook)
class WebhookAdmin(ModelAdmin[Webhook]):
    form = WebhookAdminForm
    list_display = ["id", "workflow", "name", "auth", "require_timestamp", "enabled", "calls", "last_called_at",
                    "created_at"]
    list_filter = ["enabled", "auth", "require_timestamp"]
    search_fields = ["workflow__name", "name"]
    fields = ["workflow", "name", "auth", "require_timestamp", "enabled", "token", "hmac_secret", "calls",
              "last_called_at"]
    readonly_fields = ["token", "hmac_secret", "calls", "last_called_at"]
    list_select_related = ["workflow"]

    def get_readonly_fields(self, request: HttpRequest, obj: Webhook | None = None) -> Any:
        # How a webhook authenticates is chosen when it is made: switched here from token to
        # hmac, it had no secret, and an HMAC keyed with "" is one anybody can compute.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "auth"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        if not change:  # a new webhook gets its secrets from the service, never from the form
            created = triggers.webhook_create(workflow=obj.workflow, name=obj.name, auth=obj.auth,
                                              require_timestamp=obj.require_timestamp)
            obj.pk, obj.token, obj.hmac_secret = created.pk, created.token, created.hmac_secret
            obj.enabled, obj.require_timestamp = created.enabled, created.require_timestamp
            if not form.cleaned_data.get("enabled", True):
                triggers.webhook_update(webhook=created, enabled=False)
            return
        super().save_model(request, obj, form, change)


@admin.register(PinnedOutput)
class PinnedOutputAdmin(ModelAdmin[PinnedOutput]):
    """Pinned test data: seen and deleted here; written only through the API, which checks
    the node and the bounds (editor.pins)."""

    list_display = ["id", "workflow", "node_id", "size", "updated_at", "updated_by"]
    search_fields = ["workflow__name", "node_id"]
    list_select_related = ["workflow", "updated_by"]
    fields = readonly_fields = ("workflow", "node_id", "size", "updated_at", "updated_by", "data_json")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("data")  # up to a megabyte per row: not in the list

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PinnedOutput | None = None) -> bool:
        return False

    @admin.display(description="data")
    def data_json(self, pin: PinnedOutput) -> str:
        return pretty_json(pin.data)
