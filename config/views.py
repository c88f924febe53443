"""Endpoints that belong to the deployment rather than to one app."""

import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found

from incidents.access import is_engineer, is_manager
from incidents.api.errors import PROBLEM_JSON, problem
from oncall.permissions import can_view_compensation

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("healthz: database check failed: %s", error)
        return False, error.__class__.__name__
    return True, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    from config.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            transport = conn.transport_cls
    except Exception as error:
        logger.warning("healthz: broker check failed: %s", error)
        return False, error.__class__.__name__
    return True, str(transport)


@never_cache
@require_safe
def healthz(request):
    """Liveness and readiness without a login: 200 when the database and broker answer,
    503 naming what failed otherwise. Never shows credentials or hosts."""
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    healthy = db_ok and broker_ok
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def home(request):
    """Send each person to where their work is."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if is_manager(user) and user.is_staff:
        return redirect("admin:index")
    if is_engineer(user):
        return redirect("incidents:list")
    if can_view_compensation(user):
        return redirect("oncall:compensation")
    return render(request, "home.html")


def not_found(request, exception=None):
    """404s: a problem JSON under /api/ (clients there never expect an HTML page), Django's
    page elsewhere."""
    if request.path.startswith("/api/"):
        body = problem(status_code=404, code="not_found", detail="Not found.")
        return JsonResponse(body, status=404, content_type=PROBLEM_JSON)
    return page_not_found(request, exception)
