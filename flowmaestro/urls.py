"""Every URL root and where its routes are: `/api/` workflows, triggers and demos
(editor/api_urls.py) then executions, node types and dead letters (engine/api_urls.py);
`/hooks/{token}` webhook calls (editor/trigger_api.py); `/demo-api/` the API the demo
workflows call (editor/demo_api.py); pages (editor/pages.py, engine/pages.py); `/admin/`.
Websockets are routed in engine/live/routing.py, from flowmaestro/asgi.py."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from editor.trigger_api import HookApi
from flowmaestro.api_errors import api_not_found
from flowmaestro.schema import SchemaView

handler400 = "flowmaestro.api_errors.handler400"
handler404 = "flowmaestro.api_errors.handler404"
handler500 = "flowmaestro.api_errors.handler500"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # Where people type it (n8n, Airflow and most apps log in at /login): to the real page.
    re_path(r"^login/?$", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # The schema as a page (Swagger UI, served from this app: no CDN, and its start-up script
    # is a file of its own, which the CSP allows). A logged-out visitor is sent to log in.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/", include("editor.api_urls")),
    path("api/", include("engine.api_urls")),
    # After every api/ include: any other /api/ path is a JSON 404, also under DEBUG
    # (where handler404 is not used and Django would render its HTML debug page).
    re_path(r"^api/", api_not_found),
    # Webhook triggers: no login, the token in the URL (and an HMAC for `hmac` webhooks).
    re_path(r"^hooks/(?P<token>[A-Za-z0-9_-]{1,64})/?$", HookApi.as_view(), name="hook"),
    re_path(r"^hooks/", api_not_found),
    path("demo-api/", include("editor.demo_api")),
    # The demo API is JSON too (workflows read its answers), and so is an API path asked for
    # with a slash too many: JSON 404s, also under DEBUG.
    re_path(r"^demo-api/", api_not_found),
    re_path(r"^/+(?:api|hooks|demo-api)/", api_not_found),
    path("", include("editor.pages")),
    path("", include("engine.pages")),
]
