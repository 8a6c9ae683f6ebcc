"""Execution and node-type API routes (SPEC §7). Every path works with and without a
trailing slash; ids are digits only, so a non-numeric id falls through to the JSON 404."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, re_path

from engine import api, dead_letter_api
from engine.timeline import TimelineView

EXECUTION = r"^executions/(?P<execution_id>[0-9]{1,19})"
DEAD_LETTER = r"^dead-letters/(?P<dead_letter_id>[0-9]{1,19})"

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^executions/?$", api.ExecutionListApi.as_view(), name="api-execution-list"),
    re_path(EXECUTION + r"/?$", api.ExecutionDetailApi.as_view(), name="api-execution-detail"),
    re_path(EXECUTION + r"/(?P<field>input|output|error|state)/?$", api.ExecutionValueApi.as_view(),
            name="api-execution-value"),
    re_path(EXECUTION + r"/events/?$", api.ExecutionEventsApi.as_view(), name="api-execution-events"),
    re_path(EXECUTION + r"/node-runs/?$", api.ExecutionNodeRunsApi.as_view(), name="api-execution-node-runs"),
    re_path(EXECUTION + r"/signal/?$", api.ExecutionSignalApi.as_view(), name="api-execution-signal"),
    re_path(EXECUTION + r"/retry/?$", api.ExecutionRetryApi.as_view(), name="api-execution-retry"),
    re_path(EXECUTION + r"/redrive/?$", api.ExecutionRedriveApi.as_view(), name="api-execution-redrive"),
    re_path(EXECUTION + r"/timeline/?$", TimelineView.as_view(), name="api-execution-timeline"),
    re_path(r"^node-types/?$", api.NodeTypeListApi.as_view(), name="api-node-types"),
    re_path(r"^dead-letters/?$", dead_letter_api.DeadLetterListApi.as_view(), name="api-dead-letter-list"),
    re_path(r"^dead-letters/replay/?$", dead_letter_api.DeadLetterBulkReplayApi.as_view(),
            name="api-dead-letter-bulk-replay"),
    re_path(DEAD_LETTER + r"/?$", dead_letter_api.DeadLetterDetailApi.as_view(), name="api-dead-letter-detail"),
    re_path(DEAD_LETTER + r"/(?P<field>input|error)/?$", dead_letter_api.DeadLetterValueApi.as_view(),
            name="api-dead-letter-value"),
    re_path(DEAD_LETTER + r"/replay/?$", dead_letter_api.DeadLetterReplayApi.as_view(), name="api-dead-letter-replay"),
    re_path(DEAD_LETTER + r"/discard/?$", dead_letter_api.DeadLetterDiscardApi.as_view(),
            name="api-dead-letter-discard"),
]
