from django.contrib import admin
from django.urls import include, path, re_path

from flowmaestro.api_errors import api_not_found
from flowmaestro.schema import SchemaView

handler400 = "flowmaestro.api_errors.handler400"
handler404 = "flowmaestro.api_errors.handler404"
handler500 = "flowmaestro.api_errors.handler500"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/", include("editor.api_urls")),
    path("api/", include("engine.api_urls")),
    # After every api/ include: any other /api/ path is a JSON 404, also under DEBUG
    # (where handler404 is not used and Django would render its HTML debug page).
    re_path(r"^api/", api_not_found),
    path("demo-api/", include("editor.demo_api")),
    path("", include("editor.pages")),
    path("", include("engine.pages")),
]
