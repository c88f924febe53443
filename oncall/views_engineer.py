"""The engineers' on-call pages: my on-call, who is on call now, a rotation's calendar. Every
write is a POST checked against its object (the page's engineer, the handoff's people)."""

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from incidents import once
from incidents import services as incident_services
from incidents.access import engineer_required, posted_id
from incidents.forms import add_service_errors
from oncall import selectors, services
from oncall.forms import CompTimeForm, DigestForm, HandoffForm
from oncall.models import Handoff, Page, Rotation


def _my_context(request, bound: dict | None = None) -> dict:
    bound = bound or {}
    data = selectors.my_on_call(user=request.user)
    balance = selectors.comp_time_balances(
        engineer_ids=[request.user.pk], as_of=services.project_today(), booked=True
    )[request.user.pk]
    to_write = data.handoff_to_write
    handoff_initial = (
        {"summary": to_write["handoff"].summary} if to_write and to_write["handoff"] else {}
    )
    profile = incident_services.profile_get_or_create(user=request.user)
    return {
        "data": data,
        "balance": balance,
        "handoff_form": bound.get("handoff") or HandoffForm(initial=handoff_initial),
        "comp_form": bound.get("comp") or CompTimeForm(initial={"day": timezone.localdate()}),
        "once": once.token_for(request) if bound.get("comp") else once.new_token(),
        "digest_form": DigestForm(initial={"mute_digest": profile.mute_digest}),
        "feed_url": request.build_absolute_uri(f"/oncall/calendar/{data.feed_token}.ics")
        if data.feed_token
        else None,
        "error_forms": [f for f in bound.values() if f is not None and f.errors],
        "now": timezone.now(),
    }


@require_safe
@engineer_required
def my_on_call(request):
    return render(request, "oncall/me.html", _my_context(request))


@require_POST
@engineer_required
def page_acknowledge(request, page_id: int):
    page = get_object_or_404(Page, pk=page_id)
    if page.engineer_id != request.user.pk:
        raise PermissionDenied
    try:
        services.page_acknowledge(page=page, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Page acknowledged.")
    return redirect("oncall:me")


@require_POST
@engineer_required
def handoff_write(request):
    """The outgoing engineer writes the summary for the handoff at (rotation, moment)."""
    rotation = get_object_or_404(Rotation, pk=posted_id(request, "rotation"))
    try:
        handoff_at = datetime.fromisoformat(request.POST.get("handoff_at", ""))
    except ValueError:
        raise PermissionDenied from None
    form = HandoffForm(request.POST)
    if form.is_valid():
        try:
            # One transaction: a refused or failed write leaves no new handoff row behind.
            with transaction.atomic():
                handoff = services.handoff_for(rotation=rotation, handoff_at=handoff_at)
                if handoff.outgoing_id != request.user.pk:
                    raise PermissionDenied
                services.handoff_write(
                    handoff=handoff, author=request.user, summary=form.cleaned_data["summary"]
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Handoff summary saved; the incoming engineer is told.")
            return redirect("oncall:me")
    return render(request, "oncall/me.html", _my_context(request, {"handoff": form}))


@require_POST
@engineer_required
def handoff_acknowledge(request, handoff_id: int):
    handoff = get_object_or_404(Handoff, pk=handoff_id)
    if handoff.incoming_id != request.user.pk:
        raise PermissionDenied
    try:
        services.handoff_acknowledge(handoff=handoff, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Handoff read.")
    return redirect("oncall:me")


@require_POST
@engineer_required
def comp_time_log(request):
    form = CompTimeForm(request.POST)
    # The same page sent twice (a double click, the back button) logs the hours once.
    first, _ = once.claim(request, "comp-time")
    if not first:
        messages.info(request, "These hours were already logged.")
        return redirect("oncall:me")
    if form.is_valid():
        try:
            services.comp_time_log(engineer=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        except Exception:
            once.release(request, "comp-time")
            raise
        else:
            once.done(request, "comp-time", "logged")
            messages.success(request, "Comp time logged.")
            return redirect("oncall:me")
    once.release(request, "comp-time")
    return render(request, "oncall/me.html", _my_context(request, {"comp": form}))


@require_POST
@engineer_required
def calendar_feed_new(request):
    """Create, or replace, the private calendar link (the old one stops working)."""
    services.calendar_feed_rotate(user=request.user)
    messages.success(request, "Your calendar link is ready; any earlier link stopped working.")
    return redirect("oncall:me")


@require_POST
@engineer_required
def digest_preference(request):
    form = DigestForm(request.POST)
    form.is_valid()
    incident_services.profile_set_digest_muted(
        user=request.user, muted=form.cleaned_data.get("mute_digest", False)
    )
    messages.success(request, "Digest preference saved.")
    return redirect("oncall:me")


@require_safe
@engineer_required
def on_call_now(request):
    rows = selectors.on_call_now_by_team()
    rotations = (
        Rotation.objects.filter(is_active=True)
        .select_related("team")
        .order_by("team__name", "name")
    )
    return render(request, "oncall/now.html", {"rows": rows, "rotations": rotations})


@require_safe
@engineer_required
def rotation_calendar(request, pk: int):
    rotation = get_object_or_404(Rotation.objects.select_related("team"), pk=pk)
    weeks = selectors.rotation_calendar(rotation=rotation)
    return render(request, "oncall/rotation.html", {"rotation": rotation, "weeks": weeks})
