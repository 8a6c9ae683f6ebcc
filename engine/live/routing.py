"""Websocket routes (SPEC §8). `flowmaestro.asgi` wraps them in `AllowedHostsOriginValidator`
(foreign origins are refused) and `AuthMiddlewareStack` (the Django session's user)."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from engine.live.consumers import ExecutionEventsConsumer, ExecutionListConsumer, UnknownStreamConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/executions/(?P<execution_id>[0-9]{1,19})/?$", ExecutionEventsConsumer.as_asgi()),
    re_path(r"^ws/executions/?$", ExecutionListConsumer.as_asgi()),
    # Last: any other path is "no such stream" (4404), not the router's exception (a 500).
    re_path(r"", UnknownStreamConsumer.as_asgi()),
]
