"""The REST API's URLs: ``/api/v1/`` (every app's endpoints under one router, whose root lists
them in the browsable API) and the OpenAPI schema with Swagger UI and ReDoc, served from the
sidecar package's static files rather than a CDN."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from incidents.api import urls as incidents_api
from incidents.api.base import UTCMixin
from incidents.api.errors import PROBLEM_JSON, problem
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

MISSING_SLASH = "API addresses end with a slash: {path}"


@csrf_exempt  # it changes nothing; a token-authenticated POST must get this answer, not a 403
def missing_slash(request, rest: str):
    """An address without its trailing slash (``POST /api/v1/alerts``): Django would answer a
    POST with an HTML redirect that clients follow as a GET. A 308 keeps the method and the
    body, with a problem JSON saying why; an address that is nothing with the slash either is a
    404 problem."""
    target = f"/api/{rest}/"
    try:
        resolve(target)
    except Resolver404:
        body = problem(status_code=404, code="not_found", detail="Not found.")
        return JsonResponse(body, status=404, content_type=PROBLEM_JSON)
    if request.META.get("QUERY_STRING"):
        target += f"?{request.META['QUERY_STRING']}"
    body = problem(status_code=308, code="trailing_slash", detail=MISSING_SLASH.format(path=target))
    response = JsonResponse(body, status=308, content_type=PROBLEM_JSON)
    response["Location"] = target
    return response


class SchemaView(UTCMixin, SpectacularAPIView):
    """The schema, rate limited before its permission check like every API view."""


urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SchemaView.as_view(), name="schema"),
    # Pages for people: GET only (their HTML renderer has no OPTIONS page to show); signed
    # out, the sign-in page first, as every other page.
    path(
        "schema/swagger-ui/",
        login_required(
            SpectacularSwaggerView.as_view(url_name="api:schema", http_method_names=["get", "head"])
        ),
        name="docs",
    ),
    path(
        "schema/redoc/",
        login_required(
            SpectacularRedocView.as_view(url_name="api:schema", http_method_names=["get", "head"])
        ),
        name="redoc",
    ),
    # Last: only what matched nothing above.
    re_path(r"^(?P<rest>.*[^/])$", missing_slash),
]
