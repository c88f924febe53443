"""The REST API's URLs: ``/api/v1/`` (every app's endpoints under one router, whose root lists
them in the browsable API) and the OpenAPI schema with Swagger UI and ReDoc, served from the
sidecar package's static files rather than a CDN."""

from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from incidents.api import urls as incidents_api
from oncall.api import urls as oncall_api
from postmortems.api import urls as postmortems_api

APPS = (incidents_api, postmortems_api, oncall_api)


class ApiRoot(APIRootView):
    """The index of links to every endpoint, for anyone signed in; each endpoint still checks
    its own permissions."""

    permission_classes = [IsAuthenticated]


class Router(DefaultRouter):
    APIRootView = ApiRoot


router = Router()
for app in APPS:
    router.registry.extend(app.router.registry)

v1 = [pattern for app in APPS for pattern in app.urlpatterns] + router.urls

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Pages for people: GET only (their HTML renderer has no OPTIONS page to show).
    path(
        "schema/swagger-ui/",
        SpectacularSwaggerView.as_view(url_name="api:schema", http_method_names=["get", "head"]),
        name="docs",
    ),
    path(
        "schema/redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", http_method_names=["get", "head"]),
        name="redoc",
    ),
]
