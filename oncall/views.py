"""Finance's compensation report pages and the engineers' calendar feed. Thin: parse, call a
selector, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from incidents.forms import add_service_errors
from oncall import exports, selectors, services
from oncall.calendar import shifts_ical
from oncall.forms import ReportPeriodForm
from oncall.models import CalendarFeed, PayPeriod
from oncall.permissions import can_view_compensation

User = get_user_model()


def _require_report_access(request) -> None:
    if not can_view_compensation(request.user):
        raise PermissionDenied


def _report_from(request, *, with_balances: bool = False):
    form = ReportPeriodForm(request.GET or None)
    if not form.is_bound:
        form = ReportPeriodForm({})
    report = None
    if form.is_valid():
        team = form.cleaned_data.get("team")
        try:
            report = selectors.compensation_report(
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                team=team.name if team else None,
                with_balances=with_balances,
            )
        except ValidationError as error:
            add_service_errors(form, error)
    return form, report


@never_cache  # payroll figures: never kept by browsers or proxies
@login_required
@require_safe
def compensation(request):
    _require_report_access(request)
    form, report = _report_from(request, with_balances=True)
    balances = report.balances if report is not None else {}
    context = {
        "form": form,
        "report": report,
        "rows": [(row, balances.get(row.engineer_id)) for row in report.rows] if report else [],
        "totals": report.totals() if report else [],
        "query": request.GET.urlencode(),
        "project_zone": settings.TIME_ZONE,
    }
    period = report.pay_period if report is not None else None
    # Finance closes a period once it is paid: the button shows when the service would.
    context["can_close"] = period is not None and services.pay_period_close_problem(period) is None
    status = 200 if report is not None else 400
    return render(request, "oncall/compensation.html", context, status=status)


@login_required
@require_POST
def pay_period_close(request, pk: int):
    """Finance (or a manager) closes a pay period: its figures are frozen as they stand."""
    _require_report_access(request)
    period = get_object_or_404(PayPeriod, pk=pk)
    try:
        services.pay_period_close(pay_period=period, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Pay period {period.start_date} to {period.end_date} closed: its figures are frozen.",
        )
    return redirect(f"{reverse('oncall:compensation')}?period={period.pk}")


@never_cache  # payroll figures: never kept by browsers or proxies
@login_required
@require_safe
def compensation_download(request, fmt: str):
    _require_report_access(request)
    form, report = _report_from(request)
    if report is None:
        return render(request, "oncall/compensation.html", {"form": form}, status=400)
    name = f"oncall-compensation-{report.start:%Y%m%d}-{report.end:%Y%m%d}"
    if report.team:
        name += f"-{report.team}"
    if fmt == "csv":
        response = HttpResponse(exports.report_csv(report), content_type="text/csv; charset=utf-8")
        extension = "csv"
    elif fmt == "xlsx":
        response = HttpResponse(
            exports.report_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        extension = "xlsx"
    else:
        raise Http404
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    response["Content-Disposition"] = f'attachment; filename="{safe_name}.{extension}"'
    return response


@never_cache  # payroll figures: never kept by browsers or proxies
@login_required
@require_safe
def compensation_engineer(request, user_id: int):
    _require_report_access(request)
    engineer = get_object_or_404(User, pk=user_id)
    form, report = _report_from(request)
    breakdown = None
    if report is not None:
        breakdown = selectors.compensation_breakdown(
            engineer=engineer, start=report.start, end=report.end
        )
    # One row per currency when a policy changed currency inside the period.
    rows = [r for r in report.rows if r.engineer_id == engineer.pk] if report else []
    context = {
        "engineer": engineer,
        "form": form,
        "report": report,
        "rows": rows,
        "breakdown": breakdown,
        "query": request.GET.urlencode(),
        "zone": timezone.get_current_timezone_name(),
    }
    status = 200 if report is not None else 400
    return render(request, "oncall/compensation_engineer.html", context, status=status)


@require_safe
def calendar_feed(request, token: str):
    """An engineer's shifts as iCalendar, behind a private token (calendar apps cannot log in)."""
    if "\x00" in token:  # in no token, and PostgreSQL refuses to compare with one
        raise Http404
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not feed.user.is_active:
        raise Http404
    response = HttpResponse(
        shifts_ical(user=feed.user), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="on-call.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
