"""Admin for executions: everything the engine wrote is read-only here; what an operator
may do (retry, pause, resume, cancel) goes through the same services as the API, so the
engine applies it and records it as an event like any other signal."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from engine.execution_values import bounded_value, with_values
from engine.models import DeadLetter, Event, Execution, NodeRun, PendingSignal, RetentionRun
from flowmaestro.admin_lookups import LookupSafeChangeList, ModelAdmin

INLINE_LIMIT = 200
# Counts of rows that can be millions (a big loop's node runs and events) stop here: a
# COUNT reads every matching index entry, ~1 s per million rows on PostgreSQL, on every
# page view. Past the cap the admin says "10,000+".
COUNT_CAP = 10_000


def capped_count(queryset: QuerySet[Any]) -> int:
    """How many rows `queryset` has, counting at most COUNT_CAP + 1 of them (a COUNT over a
    LIMITed subquery): a value over COUNT_CAP means "more than COUNT_CAP"."""
    return queryset.order_by()[:COUNT_CAP + 1].count()


def count_text(count: int) -> str:
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


class CappedPaginator(Paginator):
    """Pages of a list that may have millions of rows: the count is capped (capped_count),
    so past COUNT_CAP rows the last pages are not offered (filter the list instead)."""

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        return capped_count(rows) if isinstance(rows, QuerySet) else len(rows)


class CappedChangeList(LookupSafeChangeList):
    """A list over a huge table: the count under the list says "10,000+" past the cap
    (templates/admin/engine/pagination.html and search_form.html read `result_count_text`)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_count_text = count_text(self.result_count)


class HugeTableAdmin(ModelAdmin[Any]):
    """The lists of tables that grow by a row per node run or event: neither the filtered
    count nor the whole table's ("N total", which Django counts on every page) is exact."""

    paginator = CappedPaginator
    show_full_result_count = False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[CappedChangeList]:
        return CappedChangeList


# Columns no list shows that can each be megabytes (a run's input, a big loop's results, a
# thrown error, an event's data): the lists leave them out, or one user's big runs made the
# staff's Events list take 41 s a page (its rows joined their execution, were sorted with
# every big column, and fetched the execution's big columns again for each row).
EXECUTION_BIG = ("input", "output", "error", "state")


def _without(prefix: str, columns: tuple[str, ...]) -> list[str]:
    return [f"{prefix}__{c}" if prefix else c for c in columns]


class WorkflowNameFilter(admin.RelatedFieldListFilter):
    """The workflow filter's choices by name only (not every workflow's definition)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        from editor.models import Workflow

        return [(str(pk), f"{name} (v{version})") for pk, name, version in
                Workflow.objects.order_by("name", "pk").values_list("pk", "name", "version")]


class LimitedInlineFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Shows only the first `INLINE_LIMIT` rows: a loop over 10,000 items must not render
    10,000 inline rows. The full list is one click away (see `ExecutionAdmin.links`)."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_limited_queryset"):
            self._limited_queryset = super().get_queryset()[:INLINE_LIMIT]
        return self._limited_queryset


class ReadOnlyInline(admin.TabularInline[Any, Execution]):
    extra = 0
    can_delete = False
    formset = LimitedInlineFormSet

    def has_add_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False


class NodeRunInline(ReadOnlyInline):
    model = NodeRun
    fields = readonly_fields = (
        "seq", "node_id", "name", "type", "status", "attempt", "iteration", "branch_id", "branch_name", "trace_id",
        "queued_at", "started_at", "finished_at", "error",
    )
    ordering = ["seq"]
    show_change_link = True
    verbose_name_plural = f"node runs (first {INLINE_LIMIT})"


class EventInline(ReadOnlyInline):
    model = Event
    fields = readonly_fields = ("seq", "type", "ts", "node_id", "branch_id", "trace_id", "status", "data")
    ordering = ["seq"]
    verbose_name_plural = f"events (first {INLINE_LIMIT})"


class PendingSignalInline(ReadOnlyInline):
    model = PendingSignal
    fields = readonly_fields = ("type", "reason", "data", "sent_by", "created_at", "applied_at")


def _pretty(value: Any) -> str:
    return format_html(
        '<pre style="max-height:24em;overflow:auto;white-space:pre-wrap">{}</pre>', json.dumps(value, indent=2)
    )


def _bounded_pretty(execution: Execution, field: str) -> str:
    value = bounded_value(execution, field)
    if isinstance(value, dict) and value.get("truncated") is True and "url" in value:
        return format_html('large value ({} MB) — <a href="{}">open</a> · <a href="{}?download=1">download</a>',
                           f"{value['size'] / 1_000_000:.1f}", value["url"], value["url"])
    return _pretty(value)


@admin.register(Execution)
class ExecutionAdmin(HugeTableAdmin, ModelAdmin[Execution]):
    list_display = [
        "id", "workflow", "version_number", "status", "trace_id", "owner", "priority", "created_at", "finished_at",
        "held_by",
    ]
    list_filter = ["status", ("workflow", WorkflowNameFilter)]
    search_fields = ["=trace_id", "workflow__name"]
    list_select_related = ["workflow", "version", "owner"]
    date_hierarchy = "created_at"
    actions = ["retry_selected", "pause_selected", "resume_selected", "cancel_selected"]
    fields = readonly_fields = (
        "workflow", "version", "owner", "status", "priority", "trace_id", "created_at", "started_at",
        "finished_at", "engine_id", "heartbeat_at", "last_seq", "links", "input_pretty", "output_pretty",
        "error_pretty", "state_pretty",
    )
    inlines = [PendingSignalInline, NodeRunInline, EventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Execution]:
        # The change page reads the deferred columns when it shows them (one query each).
        return super().get_queryset(request).defer(
            *EXECUTION_BIG, "workflow__definition", "version__definition")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        # Read-only: state belongs to the engine; actions go through the services.
        return False

    @admin.display(description="held by", ordering="engine_id")
    def held_by(self, obj: Execution) -> str:
        """The engine (a daphne, `runengine` or Celery worker process: host:pid:id) that
        coordinates the run, while it runs; a stale heartbeat means it is up for takeover."""
        if not obj.engine_id or obj.status not in ("running", "paused"):
            return "—"
        return obj.engine_id

    @admin.display(description="version", ordering="version__number")
    def version_number(self, execution: Execution) -> int:
        return execution.version.number

    @admin.display(description="full lists")
    def links(self, execution: Execution) -> str:
        # Capped counts: a 1,000,000-item loop has millions of node runs and events, and
        # counting them all (index-only, still every entry) made this page take seconds.
        node_runs = reverse("admin:engine_noderun_changelist") + f"?execution__id__exact={execution.pk}"
        events = reverse("admin:engine_event_changelist") + f"?execution__id__exact={execution.pk}"
        return format_html(
            '<a href="{}">all {} node runs</a> · <a href="{}">all {} events</a> · '
            '<a href="/executions/{}/">timeline</a>',
            node_runs, count_text(capped_count(execution.node_runs.all())), events,
            count_text(capped_count(execution.events.all())), execution.pk,
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Execution | None:
        # The change page reads input, output, error and state like the API does: sized by
        # the database and loaded only when small (a 1,000,000-item loop's input is 7 MB,
        # which the page would otherwise decode and print whole).
        try:
            return with_values(self.get_queryset(request)).get(pk=int(object_id))
        except (Execution.DoesNotExist, ValueError, TypeError):
            return None

    @admin.display(description="input")
    def input_pretty(self, execution: Execution) -> str:
        return _bounded_pretty(execution, "input")

    @admin.display(description="output")
    def output_pretty(self, execution: Execution) -> str:
        return _bounded_pretty(execution, "output")

    @admin.display(description="error")
    def error_pretty(self, execution: Execution) -> str:
        return _bounded_pretty(execution, "error")

    @admin.display(description="state")
    def state_pretty(self, execution: Execution) -> str:
        return _bounded_pretty(execution, "state")

    @admin.action(description="Retry selected executions")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        from engine import services

        started, refused = [], []
        for execution in queryset.select_related("workflow", "version"):
            try:
                retried = services.execution_retry(execution=execution, user=request.user)
            except (services.QueueFull, services.InvalidDefinition) as exc:
                refused.append(f"#{execution.pk}: {getattr(exc, 'message', None) or exc}")
            else:
                started.append(f"#{execution.pk} → #{retried.pk}")
        if started:
            self.message_user(request, f"Retried {len(started)}: {', '.join(started)}", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not retried: {'; '.join(refused)}", messages.WARNING)

    def _signal(self, request: HttpRequest, queryset: QuerySet[Execution], signal_type: str) -> None:
        from engine import services

        sent, refused = [], []
        for execution in queryset.select_related("version"):
            waiting = execution.state.get("awaiting") if isinstance(execution.state, dict) else None
            if signal_type == "resume" and execution.status == "paused" and isinstance(waiting, dict):
                # A resume without data passes an approval with the output {}: neither
                # approved nor rejected, decided by nobody. Its decision is on its run page.
                name = waiting.get("name") or waiting.get("nodeId") or "?"
                refused.append(f"#{execution.pk} waits at the approval “{name}”: approve or reject it on its run page "
                               f"(/executions/{execution.pk}/)")
                continue
            try:
                services.execution_signal(
                    execution=execution, user=request.user, type=signal_type,
                    reason=f"{signal_type} from the admin by {request.user.get_username()}", data=None,
                )
            except (services.SignalNotApplicable, services.UnknownSignal) as exc:
                refused.append(f"#{execution.pk}: {exc.message}")
            else:
                sent.append(f"#{execution.pk}")
        if sent:
            self.message_user(request, f"Sent {signal_type} to {', '.join(sent)}", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Did not send {signal_type}: {'; '.join(refused)}", messages.WARNING)

    @admin.action(description="Pause selected executions")
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        self._signal(request, queryset, "pause")

    @admin.action(description="Resume selected executions")
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        self._signal(request, queryset, "resume")

    @admin.action(description="Cancel selected executions")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        self._signal(request, queryset, "cancel")


class ReadOnlyAdmin(ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NodeRun)
class NodeRunAdmin(HugeTableAdmin, ReadOnlyAdmin):
    list_display = [
        "id", "execution", "seq", "node_id", "type", "status", "pinned", "attempt", "iteration", "branch_id",
        "trace_id", "started_at", "finished_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["=trace_id", "=execution__trace_id", "node_id"]
    list_select_related = ["execution"]
    # Newest executions first, by the (execution, seq) index: ordering by `execution` sorted
    # the whole table by the execution's own ordering, big columns and all.
    ordering = ["-execution_id", "-seq"]
    list_per_page = 200

    def get_queryset(self, request: HttpRequest) -> QuerySet[NodeRun]:
        return super().get_queryset(request).defer("input", "output", "error", *_without("execution", EXECUTION_BIG))


@admin.register(Event)
class EventAdmin(HugeTableAdmin, ReadOnlyAdmin):
    list_display = ["execution", "seq", "type", "ts", "node_id", "branch_id", "trace_id", "status"]
    list_filter = ["type"]
    search_fields = ["=trace_id", "=execution__trace_id", "node_id"]
    list_select_related = ["execution"]
    ordering = ["-execution_id", "-seq"]
    list_per_page = 200

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return super().get_queryset(request).defer("data", *_without("execution", EXECUTION_BIG))


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    """Dead letters (SPEC §4.5): read-only; replay and discard go through the services."""

    list_display = [
        "id", "kind", "workflow", "execution", "node_id", "item_index", "trace_id", "attempts", "created_at",
        "replayed_execution", "discarded_at",
    ]
    list_filter = ["kind", ("workflow", WorkflowNameFilter)]
    search_fields = ["=trace_id", "workflow__name", "node_id"]
    list_select_related = ["workflow", "execution", "replayed_execution"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadLetter]:
        return super().get_queryset(request).defer(
            "input", "error", "workflow__definition", *_without("execution", EXECUTION_BIG),
            *_without("replayed_execution", EXECUTION_BIG))
    actions = ["replay_selected", "discard_selected"]
    fields = readonly_fields = (
        "kind", "workflow", "execution", "node_id", "item_index", "trace_id", "attempts", "created_at",
        "replayed_at", "replayed_execution", "discarded_at", "input_pretty", "error_pretty",
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    @admin.display(description="input")
    def input_pretty(self, letter: DeadLetter) -> str:
        return _pretty(letter.input)

    @admin.display(description="error")
    def error_pretty(self, letter: DeadLetter) -> str:
        return _pretty(letter.error)

    @admin.action(description="Replay selected dead letters")
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        from engine import services
        from engine.dead_letters import DeadLetterClosed, dead_letter_replay

        started, refused = [], []
        for letter in queryset:
            try:
                execution = dead_letter_replay(dead_letter=letter, user=request.user)
            except (DeadLetterClosed, services.QueueFull, services.InvalidDefinition) as exc:
                refused.append(f"#{letter.pk}: {getattr(exc, 'message', None) or exc}")
            else:
                started.append(f"#{letter.pk} → execution #{execution.pk}")
        if started:
            self.message_user(request, f"Replayed {len(started)}: {', '.join(started)}", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not replayed: {'; '.join(refused)}", messages.WARNING)

    @admin.action(description="Discard selected dead letters")
    def discard_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        from engine.dead_letters import DeadLetterClosed, dead_letter_discard

        done, refused = 0, []
        for letter in queryset:
            try:
                dead_letter_discard(dead_letter=letter, user=request.user)
            except DeadLetterClosed as exc:
                # Said, not skipped silently: a replayed letter's run is where to look.
                refused.append(f"#{letter.pk}: {exc.message}")
                continue
            done += 1
        self.message_user(request, f"Discarded {done} dead letter(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not discarded: {'; '.join(refused)}", messages.WARNING)


@admin.register(RetentionRun)
class RetentionRunAdmin(ModelAdmin[RetentionRun]):
    """What retention removed or compacted, pass by pass (read-only)."""

    list_display = ["started_at", "finished_at", "executions_deleted", "node_runs_deleted", "events_deleted",
                    "executions_compacted", "engine_id"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
