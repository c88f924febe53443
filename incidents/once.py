"""Forms whose second submission must not act again: declaring an incident (it pages the on-call
engineer), logging comp time (it comes off the balance). A double click or the back button
resubmits the same page; the page carries a single-use token (``once``) and the first request
to claim it with that content is the one that acts (the same page sent again with other
content, as after the back button, is a new submission). Claims live in the cache (Redis in
production), so two requests racing each other see the same claim."""

import hashlib
import logging
import secrets

from django.core.cache import cache

logger = logging.getLogger(__name__)

FIELD = "once"
CLAIM_SECONDS = 24 * 3600
PENDING = "pending"


def new_token() -> str:
    return secrets.token_urlsafe(16)


def token_for(request) -> str:
    """The token the page should carry: the one posted (a form shown again with its errors),
    else a new one."""
    posted = request.POST.get(FIELD, "") if request.method == "POST" else ""
    return posted if _valid(posted) else new_token()


def _valid(token: str) -> bool:
    return 8 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def _content(request) -> str:
    """A digest of what the page sent, but for its tokens: the back button brings a page back
    with its spent token, and what is typed on it then is a new submission, not a repeat."""
    keep = getattr(request, "_once_keep", None)  # the fields that make a submission new
    sent = sorted(
        (name, request.POST.getlist(name))
        for name in request.POST
        if name not in (FIELD, "csrfmiddlewaretoken") and (keep is None or keep(name))
    )
    return hashlib.sha256(repr(sent).encode()).hexdigest()[:32]


def _key(request, scope: str, token: str) -> str:
    return f"once:{scope}:{request.user.pk}:{token}:{_content(request)}"


def claim(request, scope: str) -> tuple[bool, object]:
    """``(True, None)`` when this request may act (no token at all counts: a page from before
    tokens, or a script); ``(False, what the first one recorded)`` for a repeat: ``PENDING``
    while it is still at work, then what ``done`` stored."""
    token = request.POST.get(FIELD, "")
    if not _valid(token):
        return True, None
    try:
        if cache.add(_key(request, scope, token), PENDING, CLAIM_SECONDS):
            return True, None
        return False, cache.get(_key(request, scope, token))
    except Exception:  # the cache is down: declaring must not depend on it (fail open)
        logger.exception("once: cannot claim %s; acting without the guard", scope)
        return True, None


def done(request, scope: str, result) -> None:
    """Record what the claimed submission did, for its repeats to show."""
    token = request.POST.get(FIELD, "")
    if _valid(token):
        try:
            cache.set(_key(request, scope, token), result, CLAIM_SECONDS)
        except Exception:
            logger.exception("once: cannot record %s", scope)


def release(request, scope: str) -> None:
    """The submission was refused (a form error): the same page may be sent again."""
    token = request.POST.get(FIELD, "")
    if _valid(token):
        try:
            cache.delete(_key(request, scope, token))
        except Exception:
            logger.exception("once: cannot release %s", scope)


def act_once(request, scope: str, act, *, repeated, keep=None):
    """Run ``act()`` (a view's work, returning its response) unless this page was sent before:
    then ``repeated()``. A redirect means it acted, and its repeats are refused from then on;
    any other response (the form shown again with its errors) or an exception releases the
    token, so the corrected page may be sent. ``keep(name)`` limits which fields make a
    submission new (by default all of them)."""
    request._once_keep = keep
    first, _ = claim(request, scope)
    if not first:
        return repeated()
    try:
        response = act()
    except Exception:
        release(request, scope)
        raise
    if response.status_code in (301, 302, 303):
        done(request, scope, "done")
    else:
        release(request, scope)
    return response
