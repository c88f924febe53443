"""Rate limits per API token, counted in Django's cache (Redis in production, so every web
process shares the counts)."""

import functools
import time

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from incidents.models import ApiToken

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/minute"`` → ``(600, 60)``."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


class TokenRateThrottle(BaseThrottle):
    """A fixed-window counter per token (scope ``token``); a person using the browsable API
    counts as themselves, and a request without credentials per client address (scope
    ``anonymous``). Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read
    on every request.

    On Redis the count is ``SET NX EX`` then ``INCR`` in one MULTI/EXEC (one round trip),
    elsewhere ``cache.add`` then ``cache.incr``: atomic either way, so concurrent requests in
    several processes never share one slot (DRF's own throttles read, append and write back
    a list, which lets concurrent requests through).
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def _scope_and_ident(self, request) -> tuple[str, str]:
        if isinstance(request.auth, ApiToken):
            return "token", f"token-{request.auth.pk}"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return "token", f"user-{user.pk}"
        return "anonymous", f"address-{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        scope, ident = self._scope_and_ident(request)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if not rate:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        key = f"api-throttle:{scope}:{ident}:{duration}:{window}"
        count = _count(key, timeout=duration + 1)
        if count > limit:
            self._wait = (window + 1) * duration - now
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


@functools.cache
def _redis(location: str) -> redis.Redis:
    return redis.Redis.from_url(location)


def _count(key: str, *, timeout: int) -> int:
    """One more request in the window ``key``: the window's count so far, this one included.
    Keys are the cache's own (its prefix and version), so clearing the cache clears them."""
    cache = caches["default"]  # the backend itself: ``django.core.cache.cache`` is a proxy
    if isinstance(cache, RedisCache):
        pipe = _redis(settings.CACHES["default"]["LOCATION"]).pipeline(transaction=True)
        full_key = cache.make_and_validate_key(key)
        pipe.set(full_key, 0, nx=True, ex=timeout)
        pipe.incr(full_key)
        return pipe.execute()[1]
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
