"""System checks of a deployment (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

PER_PROCESS_CACHE = Warning(
    "REDIS_URL is not set, so the cache is each web process's own memory: the sign-in limit, "
    "the API rate limits and the forms' single-use tokens then count per process (four workers "
    "allow four times the guesses).",
    hint="Set REDIS_URL to the Redis every web process shares.",
    id="incidentdesk.W001",
)


@register(Tags.security, deploy=True)
def shared_cache(app_configs, **kwargs):
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not settings.DEBUG and backend.endswith("LocMemCache"):
        return [PER_PROCESS_CACHE]
    return []
