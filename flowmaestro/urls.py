from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/", include("editor.api_urls")),
    path("api/", include("engine.api_urls")),
    path("demo-api/", include("editor.demo_api")),
    path("", include("editor.pages")),
    path("", include("engine.pages")),
]
