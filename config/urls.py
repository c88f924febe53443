from django.contrib import admin
from django.contrib.auth.views import LoginView, PasswordResetView
from django.urls import include, path

from config.login import QueuedPasswordResetForm, ThrottledAuthenticationForm
from config.views import healthz, home

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path(
        "accounts/password_reset/",
        PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("incidents/", include("incidents.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("action-items/", include("postmortems.urls_action_items")),
    path("oncall/", include("oncall.urls")),
    path("api/", include(("config.api", "api"))),
    path("status/", include("incidents.status_urls")),
    path("", home, name="home"),
]

handler404 = "config.views.not_found"
