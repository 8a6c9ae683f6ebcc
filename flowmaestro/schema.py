"""The OpenAPI schema view: for logged-in users only (SPECTACULAR_SETTINGS'
SERVE_PERMISSIONS), and its refusals are JSON like every other API answer."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # Content negotiation picked a schema renderer (YAML by default), which would write
        # the 401/403 as an OpenAPI document; an error is JSON whatever was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response
