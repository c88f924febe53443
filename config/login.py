"""Sign-in with a limit on failed attempts, for the engineers' login page and the admin's.

Passwords guard everything here, the managers' admin included, so guessing is slowed down:
after ``PER_ACCOUNT`` failed attempts on one username within ``WINDOW``, further attempts on
it are refused without checking the password until the window has passed. There is no limit
per address: behind the TLS proxy every request comes from the proxy's address, and such a
limit would let anyone lock everybody out. The counts live in the shared cache (Redis), so
every web process sees them; with the cache down, sign-in works unguarded rather than not at
all."""

import logging

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

WINDOW = 15 * 60
PER_ACCOUNT = 10
TOO_MANY = "Too many failed sign-ins; wait 15 minutes and try again."


def _keys(request, username: str) -> list[tuple[str, int]]:
    return [(f"login-failed:user:{username.strip().lower()}", PER_ACCOUNT)]


def _blocked(request, username: str) -> bool:
    try:
        counts = cache.get_many([key for key, _ in _keys(request, username)])
    except Exception:
        logger.exception("login throttle: cache unavailable")
        return False
    return any(counts.get(key, 0) >= limit for key, limit in _keys(request, username))


def _count_failure(request, username: str) -> None:
    try:
        for key, _ in _keys(request, username):
            cache.add(key, 0, WINDOW)
            cache.incr(key)
    except Exception:
        logger.exception("login throttle: cache unavailable")


def _forget(request, username: str) -> None:
    try:
        cache.delete(_keys(request, username)[0][0])
    except Exception:
        logger.exception("login throttle: cache unavailable")


class _Throttled:
    def clean(self):
        username = self.data.get("username", "") or ""
        if _blocked(self.request, username):
            raise ValidationError(TOO_MANY, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                _count_failure(self.request, username)
            raise
        _forget(self.request, username)
        return cleaned


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    pass
