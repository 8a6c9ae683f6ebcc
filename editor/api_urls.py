"""Workflow API routes (SPEC §7). Every path works with and without a trailing slash
(APPEND_SLASH is off so that a POST is never redirected); ids are digits only, so a
non-numeric id falls through to the JSON 404."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, re_path

from editor import api, trigger_api

WORKFLOW = r"^workflows/(?P<workflow_id>[0-9]{1,19})"
VERSION = WORKFLOW + r"/versions/(?P<number>[0-9]{1,19})"

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^workflows/?$", api.WorkflowListApi.as_view(), name="api-workflow-list"),
    re_path(WORKFLOW + r"/?$", api.WorkflowDetailApi.as_view(), name="api-workflow-detail"),
    re_path(WORKFLOW + r"/versions/?$", api.WorkflowVersionListApi.as_view(), name="api-workflow-versions"),
    re_path(VERSION + r"/?$", api.WorkflowVersionDetailApi.as_view(), name="api-workflow-version"),
    re_path(VERSION + r"/restore/?$", api.WorkflowVersionRestoreApi.as_view(), name="api-workflow-version-restore"),
    re_path(WORKFLOW + r"/duplicate/?$", api.WorkflowDuplicateApi.as_view(), name="api-workflow-duplicate"),
    re_path(WORKFLOW + r"/validate/?$", api.WorkflowValidateApi.as_view(), name="api-workflow-validate"),
    re_path(WORKFLOW + r"/run/?$", api.WorkflowRunApi.as_view(), name="api-workflow-run"),
    re_path(WORKFLOW + r"/reuse-preview/?$", api.WorkflowReusePreviewApi.as_view(), name="api-workflow-reuse-preview"),
    re_path(WORKFLOW + r"/test-expression/?$", api.WorkflowExpressionTestApi.as_view(),
            name="api-workflow-test-expression"),
    re_path(WORKFLOW + r"/pins/?$", api.WorkflowPinListApi.as_view(), name="api-workflow-pins"),
    # A node id is any characters but "/". Longer ones than a node id can be
    # (engine.core.rules.MAX_NODE_ID_LENGTH) reach the view too, which says so in a 400: a
    # bound in the pattern would leave them to the generic "Not found.".
    re_path(WORKFLOW + r"/pins/(?P<node_id>[^/]+)/?$", api.WorkflowPinDetailApi.as_view(),
            name="api-workflow-pin"),
    re_path(r"^demo-workflows/?$", api.DemoWorkflowsApi.as_view(), name="api-demo-workflows"),
    re_path(WORKFLOW + r"/webhooks/?$", trigger_api.WebhookListApi.as_view(), name="api-workflow-webhooks"),
    re_path(WORKFLOW + r"/webhooks/(?P<webhook_id>[0-9]{1,19})/?$", trigger_api.WebhookDetailApi.as_view(),
            name="api-workflow-webhook"),
    re_path(WORKFLOW + r"/retention/?$", trigger_api.RetentionApi.as_view(), name="api-workflow-retention"),
    re_path(WORKFLOW + r"/schedules/?$", trigger_api.ScheduleListApi.as_view(), name="api-workflow-schedules"),
    re_path(WORKFLOW + r"/schedules/(?P<schedule_id>[0-9]{1,19})/?$", trigger_api.ScheduleDetailApi.as_view(),
            name="api-workflow-schedule"),
]
