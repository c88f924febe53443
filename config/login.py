"""Sign-in with a limit on failed attempts, for the engineers' login page and the admin's.

Passwords guard everything here, the managers' admin included, so guessing is slowed down:
after ``PER_ACCOUNT`` failed attempts on one username within ``WINDOW``, further attempts on
it are refused without checking the password until the window has passed. There is no limit
per address: behind the TLS proxy every request comes from the proxy's address, and such a
limit would let anyone lock everybody out. The counts live in the shared cache (Redis), so
every web process sees them; with the cache down, sign-in works unguarded rather than not at
all."""

import logging
import unicodedata

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.template import loader

logger = logging.getLogger(__name__)

WINDOW = 15 * 60
PER_ACCOUNT = 10
TOO_MANY = "Too many failed sign-ins; wait 15 minutes and try again."


def _key(username: str) -> str:
    """The counter of a username, as sign-in reads it: Django folds compatibility characters
    (NFKC) before looking the account up, so a fullwidth "eddie" is eddie, and counting the raw
    text would give every such spelling a fresh set of guesses."""
    return f"login-failed:user:{unicodedata.normalize('NFKC', username).strip().casefold()}"


def _reserve(username: str) -> bool:
    """Count this attempt before its password is checked, and say whether it is within the
    limit. Counting first (one atomic increment) means guesses sent at once cannot all pass
    the check while the first of them is still being hashed."""
    key = _key(username)
    try:
        cache.add(key, 0, WINDOW)
        return cache.incr(key) <= PER_ACCOUNT
    except Exception:
        logger.exception("login throttle: cache unavailable")
        return True


def _forget(username: str) -> None:
    try:
        cache.delete(_key(username))
    except Exception:
        logger.exception("login throttle: cache unavailable")


class _Throttled:
    def clean(self):
        username = self.data.get("username", "") or ""
        if not _reserve(username):
            raise ValidationError(TOO_MANY, code="throttled")
        cleaned = super().clean()
        if getattr(self, "user_cache", None) is not None:
            _forget(username)  # signed in: the failures before it no longer count
        return cleaned


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    pass


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, the e-mail sent by the worker: sending it inside the request made
    an address with an account answer measurably slower than one without, which told anyone
    who asked which addresses have accounts."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        from incidents.tasks import send_password_reset

        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        html = (
            loader.render_to_string(html_email_template_name, context)
            if html_email_template_name
            else None
        )
        send_password_reset.delay(subject, body, from_email, to_email, html)
