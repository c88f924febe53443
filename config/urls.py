from django.contrib import admin
from django.urls import include, path

from config.views import healthz, home

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("oncall/", include("oncall.urls")),
    path("status/", include("incidents.status_urls")),
    path("", home, name="home"),
]
