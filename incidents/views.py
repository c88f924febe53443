"""The engineers' incident pages. Thin: parse the form, call a service, render."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from incidents import once, runbooks, selectors, services
from incidents.access import engineer_required, posted_id
from incidents.forms import (
    IMPACT_FIELDS,
    DeclareIncidentForm,
    ImpactForm,
    NoteForm,
    RoleAssignForm,
    SeverityChangeForm,
    StatusChangeForm,
    StatusUpdateForm,
    TakeRoleForm,
    add_service_errors,
)
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentRunbook,
    IncidentStatus,
    Runbook,
    Service,
    Severity,
    Team,
    TemplateKind,
    UpdateAudience,
)
from incidents.models.incident import OPEN_STATUSES
from incidents.services import ResolutionChecklist

LIST_FILTERS = {
    "active": "Open and recent",
    "open": "Open",
    "recent": "Last 30 days",
    "mine": "Mine (declared or held a role)",
    "closed": "Resolved and closed",
    "": "All",
}


def _chosen(model, value: str | None):
    """The row a filter's id names, or None for a blank, malformed or unknown id."""
    value = value or ""
    return (
        model.objects.filter(pk=int(value)).first() if value.isascii() and value.isdigit() else None
    )


@require_safe
@engineer_required
def incident_list(request):
    """Open and recent incidents with severity, status, commander and age; filters."""
    show = request.GET.get("show", "active")
    if show not in LIST_FILTERS:
        show = "active"
    since = timezone.now() - timedelta(days=30) if show == "recent" else None
    severity = _chosen(Severity, request.GET.get("severity"))
    team = _chosen(Team, request.GET.get("team"))
    service = _chosen(Service, request.GET.get("service"))
    incidents = selectors.incident_filter(
        selectors.incident_list(),
        status="" if show in ("recent", "mine") else show,
        now=timezone.now(),
        severity=severity,
        team=team,
        service=service,
        since=since,
        involving=request.user if show == "mine" else None,
    )
    page = Paginator(incidents, 50).get_page(request.GET.get("page"))
    # The other pages keep the filters.
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {
        "page": page,
        "filter_query": filters.urlencode(),
        "show": show,
        "filters": LIST_FILTERS,
        "severities": Severity.objects.order_by("rank"),
        "teams": Team.objects.order_by("name"),
        "services": Service.objects.order_by("name"),
        "selected": {"severity": severity, "team": team, "service": service},
        "now": timezone.now(),
    }
    return render(request, "incidents/list.html", context)


@engineer_required
def incident_declare(request):
    """Declare an incident; the declarer lands on its page."""
    form = DeclareIncidentForm(request.POST or None)
    if request.method == "POST":
        # A double click or the back button sends the page again: declare (and page) once.
        first, earlier = once.claim(request, "declare")
        if not first:
            if isinstance(earlier, int):
                messages.info(request, "This incident was already declared.")
                return redirect("incidents:detail", pk=earlier)
            messages.info(request, "This incident is being declared; it is in the list.")
            return redirect("incidents:list")
        if form.is_valid():
            try:
                incident = services.incident_declare(declared_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            except Exception:
                once.release(request, "declare")  # nothing was declared: it may be sent again
                raise
            else:
                once.done(request, "declare", incident.pk)
                messages.success(
                    request, f"{incident.reference} declared. Channel: {incident.channel_name}"
                )
                return redirect("incidents:detail", pk=incident.pk)
        once.release(request, "declare")
    severities = Severity.objects.filter(is_active=True).order_by("rank")
    context = {"form": form, "severities": severities, "once": once.token_for(request)}
    return render(request, "incidents/declare.html", context)


def _update_initial(incident) -> dict:
    has_public = any(u.audience == UpdateAudience.STATUS_PAGE for u in incident.updates.all())
    if not any(s.is_public for s in incident.services.all()):
        has_public = True  # not on the status page at all: every update is internal
    kind = TemplateKind.UPDATE if has_public else TemplateKind.INITIAL
    # The first update is offered for the status page, so it is prefilled with public facts
    # only; later ones default to internal and may name what only the team should read.
    initial = StatusUpdateForm.initial_for(incident, kind=kind, public=not has_public)
    initial["audience"] = UpdateAudience.INTERNAL if has_public else UpdateAudience.STATUS_PAGE
    return initial


def _detail_context(request, incident, bound: dict | None = None) -> dict:
    bound = bound or {}
    roles = selectors.active_roles(incident)
    query = request.GET.get("runbook_q", "").replace("\x00", "").strip()
    due = selectors.next_update_due(incident)
    return {
        "incident": incident,
        "roles": roles,
        "announcement": selectors.incident_announcement(
            incident,
            commander=roles[IncidentRole.COMMANDER].user
            if IncidentRole.COMMANDER in roles
            else None,
        ),
        "role_history": list(incident.roles.all()),
        "durations": selectors.incident_durations(incident=incident),
        "next_update_due": due,
        "update_form": bound.get("update") or StatusUpdateForm(initial=_update_initial(incident)),
        "note_form": bound.get("note") or NoteForm(incident=incident),
        "status_form": bound.get("status") or StatusChangeForm(incident=incident),
        "severity_form": bound.get("severity")
        or SeverityChangeForm(initial={"severity": incident.severity_id}),
        "take_form": bound.get("take") or TakeRoleForm(prefix="take"),
        "handover_form": bound.get("handover") or RoleAssignForm(prefix="handover"),
        "impact_form": bound.get("impact") or ImpactForm(instance=incident, prefix="impact"),
        "once": once.token_for(request),
        "checklist_labels": ResolutionChecklist.LABELS,
        "timeline": list(reversed(incident.timeline.all())),
        "is_closed": incident.status == IncidentStatus.CLOSED,
        "is_open": incident.status in OPEN_STATUSES,
        "now": timezone.now(),
        "runs": runbooks.incident_runs(incident=incident),
        "suggested_runbooks": list(runbooks.runbooks_suggested(incident=incident)),
        "runbook_query": query,
        "runbook_results": list(runbooks.runbook_search(text=query, incident=incident))
        if query
        else [],
        "error_summary": [
            (name, form) for name, form in bound.items() if form is not None and form.errors
        ],
    }


@require_safe
@engineer_required
def incident_detail(request, pk: int):
    incident = get_object_or_404(Incident, pk=pk)
    incident = selectors.incident_with_timeline(pk=incident.pk)
    return render(request, "incidents/detail.html", _detail_context(request, incident))


@require_safe
@engineer_required
def incident_timeline(request, pk: int):
    """The timeline alone, newest first: polled by the incident page every few seconds."""
    incident = get_object_or_404(Incident, pk=pk)
    events = selectors.incident_timeline(incident=incident, newest_first=True)
    return render(request, "incidents/_timeline.html", {"timeline": events, "incident": incident})


# Two forms on the page have a "role" field: their fields are prefixed so ids stay unique.
PREFIXED = ("take", "handover", "impact")

ACTIONS = {
    "update": StatusUpdateForm,
    "note": NoteForm,
    "status": StatusChangeForm,
    "severity": SeverityChangeForm,
    "take": TakeRoleForm,
    "handover": RoleAssignForm,
    "impact": ImpactForm,
    "acknowledge": None,
}


def _perform(action: str, request, incident, form) -> str:
    user = request.user
    data = form.cleaned_data if form is not None else {}
    if action == "update":
        services.status_update_post(incident=incident, author=user, **data)
        return "Update posted."
    if action == "note":
        services.note_add(
            incident=incident, author=user, text=data["text"], corrects=data.get("corrects")
        )
        return "Note added."
    if action == "status":
        services.incident_change_status(
            incident=incident,
            to_status=data["to_status"],
            by=user,
            checklist=form.checklist(),
            note=data["note"],
            mitigation_action=data["mitigation_action"],
        )
        return f"Status changed to {IncidentStatus(data['to_status']).label.lower()}."
    if action == "severity":
        services.incident_change_severity(
            incident=incident, severity=data["severity"], by=user, reason=data["reason"]
        )
        return f"Severity changed to {data['severity'].name}."
    if action == "take":
        services.role_assign(
            incident=incident, role=data["role"], user=user, by=user, only_if_free=True
        )
        return "You took the role."
    if action == "handover":
        services.role_assign(incident=incident, role=data["role"], user=data["user"], by=user)
        return "Role handed over."
    if action == "impact":
        services.incident_update_details(
            incident=incident, by=user, **{name: data[name] for name in IMPACT_FIELDS}
        )
        return "Impact and root cause saved."
    services.incident_acknowledge(incident=incident, by=user)
    return "Acknowledged."


@require_POST
@engineer_required
def incident_act(request, pk: int, action: str):
    """Every change to an incident from its page: the form, the service, back to the page.
    A refusal shows the page again with the error next to the user's input."""
    if action not in ACTIONS:
        return HttpResponseNotAllowed(["POST"])
    incident = get_object_or_404(Incident, pk=pk)
    # Updates and notes add to the incident: the same page sent twice (a double click, the
    # back button) adds once, or a public update would be published (and in the feed) twice.
    if action not in ONCE_ACTIONS:
        return _act(request, incident, action)

    def repeated():
        messages.info(request, ONCE_REPEATED[action])
        return redirect(reverse("incidents:detail", args=[pk]) + f"#{action}")

    return once.act_once(
        request, f"{action}:{pk}", lambda: _act(request, incident, action), repeated=repeated
    )


ONCE_ACTIONS = ("update", "note")
ONCE_REPEATED = {
    "update": "This update was already posted.",
    "note": "This note was already added.",
}


def _act(request, incident: Incident, action: str):
    pk = incident.pk
    form_class = ACTIONS[action]
    form = None
    prefix = action if action in PREFIXED else None
    if form_class in (StatusChangeForm, NoteForm):
        form = form_class(request.POST, incident=incident)
    elif form_class is ImpactForm:
        form = ImpactForm(request.POST, instance=incident, prefix=prefix)
    elif form_class is not None:
        form = form_class(request.POST, prefix=prefix)
    if form is None or form.is_valid():
        try:
            done = _perform(action, request, incident, form)
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
                return redirect("incidents:detail", pk=pk)
            add_service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect(reverse("incidents:detail", args=[pk]) + f"#{action}")
    incident = selectors.incident_with_timeline(pk=pk)
    context = _detail_context(request, incident, bound={action: form})
    return render(request, "incidents/detail.html", context)


@require_POST
@engineer_required
def runbook_start(request, pk: int):
    """Start a runbook on the incident (the version it has now)."""
    incident = get_object_or_404(Incident, pk=pk)
    runbook = get_object_or_404(Runbook, pk=posted_id(request, "runbook"))
    try:
        runbooks.runbook_start(incident=incident, runbook=runbook, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Runbook started: {runbook.title}.")
    return redirect(reverse("incidents:detail", args=[pk]) + "#runbooks")


@require_POST
@engineer_required
def runbook_step(request, pk: int, run_id: int, position: int):
    """Tick a step done, or skip it with a note."""
    run = get_object_or_404(IncidentRunbook, pk=run_id, incident_id=pk)
    try:
        runbooks.runbook_step_record(
            run=run,
            position=position,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            by=request.user,
        )
    except ValidationError as error:
        if position not in {step["position"] for step in run.version.steps}:
            messages.error(request, " ".join(error.messages))
            return redirect(reverse("incidents:detail", args=[pk]) + f"#run-{run_id}")
        # Shown beside the step with the typed reason kept, as a refused form is.
        incident = selectors.incident_with_timeline(pk=pk)
        context = _detail_context(request, incident)
        context["step_error"] = {
            "run": run.pk,
            "position": position,
            "message": " ".join(error.messages),
            "note": request.POST.get("note", ""),
        }
        return render(request, "incidents/detail.html", context)
    return redirect(reverse("incidents:detail", args=[pk]) + f"#run-{run_id}")
