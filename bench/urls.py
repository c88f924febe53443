"""The project's URLs plus the framework's floor: a bare view returning a fixed JSON body.
Used only by the benchmark (it sets ROOT_URLCONF to this module)."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

FIXED = {"status": "ok", "items": list(range(10))}


def floor(request):
    return JsonResponse(FIXED)


urlpatterns = [path("bench/floor/", floor), *project_urlpatterns]
